// Package graphsim is a stateful simulator of the Microsoft Graph beta
// synchronization API (cloud sync / AD2AAD provisioning) together with a
// minimal Entra ID token endpoint that the real azidentity/MSAL client
// accepts.
//
// It reproduces the awkward parts of the real service rather than an idealised
// API: every instantiate creates a new application, the jobs endpoint
// happily creates duplicate jobs, a fresh service principal is invisible for a
// while (ReplicationLag), PATCH on a job schema answers 404 "No HTTP resource
// was found…", secrets GET masks sensitive values as "*" and PUT replaces the
// whole set, synchronization back-end errors are wrapped as a JSON string in
// error.message with the outer code "UnknownError", discover fails for the
// first calls, throttling answers 429 with a decimal Retry-After, and bodies
// labelled gzip that are not gzip are refused with 400.
//
// Misuse is not refused more strictly than Graph would: it is answered like
// Graph and recorded as a Violation (duplicate applications, duplicate jobs,
// duplicate CredentialData mappings, "*" written back as a secret, start on a
// running job, start lifting a TooManyDeletes quarantine, cross-tenant access,
// two configurations of one domain, turning the tenant-wide sync flag off).
//
// Graph's quarantine life cycle is modelled: a quarantine is re-evaluated
// periodically (Options.QuarantineReevaluation, about daily) in the same series,
// start clears any quarantine, and a lifted quarantine ends its series. A new
// job answers GET by id with 404 for Options.JobReadLag while already listed.
// Deletes are soft for applications and service principals (deleting an
// application deletes its service principal), and reads still show a deleted
// object for Options.DeleteLag.
//
// Known leniencies (places where the simulator is friendlier than Graph):
//   - a newly created service principal is listed by GET /servicePrincipals
//     ($filter) after Options.ListLag, a fixed delay (0 by default: at once);
//     real Graph gives no bound;
//   - $select, $top and $count are ignored (all properties are returned);
//   - only one page is ever returned (no @odata.nextLink);
//   - permissions are not modelled except through TenantOptions.MissingPermission;
//   - tenants named by domain name are distinct from tenants named by GUID.
//
// The package uses only the standard library.
package graphsim
