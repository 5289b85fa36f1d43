// Package graphcount counts Graph requests in graphsim's request log for the
// bench's figures and the e2e tests' budgets, with their one definition of a
// write: what changes a tenant (discover only reads the directory). graphsim's
// own Stats.GraphWrites counts every non-GET instead.
package graphcount

import (
	"fmt"
	"strings"

	"github.com/cloudsync/cloudsync/graphsim"
)

// Count is a number of Graph requests: all of them, the writes, and each
// "route status" (e.g. "GET /servicePrincipals/{id} 404").
type Count struct {
	Total   int            `json:"total"`
	Writes  int            `json:"writes"`
	ByRoute map[string]int `json:"byRoute"`
}

// Of counts the requests of log that keep accepts.
func Of(log []graphsim.Request, keep func(graphsim.Request) bool) Count {
	c := Count{ByRoute: map[string]int{}}
	for _, r := range log {
		if !keep(r) {
			continue
		}
		c.Total++
		if IsWrite(r) {
			c.Writes++
		}
		c.ByRoute[fmt.Sprintf("%s %d", r.Route, r.Status)]++
	}
	return c
}

// IsWrite: every method but GET writes, except discover, a POST that reads.
func IsWrite(r graphsim.Request) bool {
	return r.Method != "GET" && !strings.HasSuffix(r.Route, "/discover")
}
