package graph

import (
	"context"
	"encoding/json"
	"fmt"

	abs "github.com/microsoft/kiota-abstractions-go"
)

// Deletes answer 204; a 404 comes back as a KindNotFound error, which callers
// that offboard read as "already gone" (a retry after a lost answer, or
// someone else deleted it). Graph soft-deletes applications and service
// principals (deleted items, restorable for 30 days) and deletes a sync job
// with all its state; reads may still show a deleted object for a moment.

// DeleteJob deletes a sync job: Graph stops it and deletes its state for good;
// the accounts it synchronized are left as they are.
func (c *Client) DeleteJob(ctx context.Context, spID, jobID string) error {
	o := op{"delete sync job", permSync}
	return o.wrap(c.jobs(spID).BySynchronizationJobId(jobID).Delete(ctx, nil))
}

// DeleteServicePrincipal soft-deletes a service principal (its jobs and
// secrets go with it; its application stays).
func (c *Client) DeleteServicePrincipal(ctx context.Context, spID string) error {
	o := op{"delete service principal", permApplication}
	return o.wrap(c.sps.ByServicePrincipalId(spID).Delete(ctx, nil))
}

// Application is what we keep of an application (registration).
type Application struct {
	ObjectID              string
	AppID                 string
	DisplayName           string
	ApplicationTemplateID string
}

// ApplicationByAppID reads the application with this appId (its alternate
// key). The SDK's applications builders are not linked for two requests: raw
// requests through the same adapter behave the same.
func (c *Client) ApplicationByAppID(ctx context.Context, appID string) (Application, error) {
	o := op{"get application", permApplication}
	ri := c.raw(abs.GET, "{+baseurl}/applications(appId='{appId}'){?%24select}", map[string]string{"appId": odataQuote(appID)})
	ri.QueryParameters["%24select"] = "id,appId,displayName,applicationTemplateId"
	b, err := c.sendBytes(ctx, ri)
	if err != nil {
		return Application{}, o.wrap(err)
	}
	var app struct {
		ID, AppID, DisplayName string
		ApplicationTemplateID  *string `json:"applicationTemplateId"`
	}
	if err := json.Unmarshal(b, &app); err != nil {
		return Application{}, o.wrap(fmt.Errorf("decode application: %w", err))
	}
	return Application{ObjectID: app.ID, AppID: app.AppID, DisplayName: app.DisplayName, ApplicationTemplateID: deref(app.ApplicationTemplateID)}, nil
}

// DeleteApplication soft-deletes an application by its object id; Graph
// deletes its service principal in this (its home) tenant with it.
func (c *Client) DeleteApplication(ctx context.Context, objectID string) error {
	o := op{"delete application", permApplication}
	ri := c.raw(abs.DELETE, "{+baseurl}/applications/{application%2Did}", map[string]string{"application%2Did": objectID})
	return o.wrap(c.sendNoContent(ctx, ri))
}

// ServicePrincipalsOfApp lists the service principals of an application
// (appId), in this tenant.
func (c *Client) ServicePrincipalsOfApp(ctx context.Context, appID string) ([]ServicePrincipal, error) {
	return c.listServicePrincipals(ctx, "find service principals of application", fmt.Sprintf("appId eq '%s'", odataQuote(appID)))
}
