// Package deploy holds cloudsync's deployment files: docker-compose support
// (compose/), Kubernetes manifests (kubernetes/, kustomize) and Temporal
// set-up (temporal/). The Dockerfile and docker-compose.yml are at the
// repository root.
//
// There is no code here: the tests check those files statically (no Docker or
// cluster needed), against what the code actually reads: the worker's
// environment variables, Temporal's envconfig variables, the search attributes
// in workflows.SearchAttributeNames and graphsim's flags. Every check also has
// a test that breaks its input and expects the check to complain.
package deploy
