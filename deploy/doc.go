// Package deploy holds cloudsync's deployment files: docker-compose support
// (compose/), Kubernetes manifests (kubernetes/, kustomize) and Temporal
// set-up (temporal/). The Dockerfile and docker-compose.yml are at the
// repository root.
//
// There is no code here: the tests check those files statically (no Docker or
// cluster needed), against what the code actually reads: the worker's
// environment variables and Temporal's envconfig variables (the table in
// internal/workerenv, which the worker's tests hold to what it reads), the
// --stop-timeout default, the search attributes in
// workflows.SearchAttributeNames and graphsim's flags; and that compose
// runs the Temporal server the way make test-cluster does (same version,
// schema script, config file deploy/temporal/cluster/postgresql.yaml and
// namespace script). Every check also has a test that breaks its input and
// expects the check to complain.
package deploy
