// Command starter is the cloudsync operator CLI: it starts tenant onboardings
// on Temporal and reports their progress. It links only the workflows
// package (the public contract), never the Graph SDK.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
