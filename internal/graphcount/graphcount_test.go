package graphcount

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/graphsim"
)

func TestOfCountsWritesWithoutDiscover(t *testing.T) {
	log := []graphsim.Request{
		{Method: "GET", Route: "GET /servicePrincipals/{id}", Status: 404, Tenant: "a"},
		{Method: "GET", Route: "GET /servicePrincipals/{id}", Status: 200, Tenant: "a"},
		{Method: "PUT", Route: "PUT /servicePrincipals/{id}/synchronization/secrets", Status: 204, Tenant: "a"},
		{Method: "POST", Route: "POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/schema/directories/{directoryId}/discover", Status: 200, Tenant: "a"},
		{Method: "PUT", Route: "PUT /servicePrincipals/{id}/synchronization/secrets", Status: 204, Tenant: "b"},
	}
	c := Of(log, func(r graphsim.Request) bool { return r.Tenant == "a" })
	require.Equal(t, 4, c.Total)
	require.Equal(t, 1, c.Writes, "discover is a POST that reads")
	require.Equal(t, map[string]int{
		"GET /servicePrincipals/{id} 404":                         1,
		"GET /servicePrincipals/{id} 200":                         1,
		"PUT /servicePrincipals/{id}/synchronization/secrets 204": 1,
		"POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/schema/directories/{directoryId}/discover 200": 1,
	}, c.ByRoute)
}
