package cmdutil

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/cloudsync/cloudsync/workflows"
)

// The watch flags validate into the workflow's WatchOptions; none given
// leaves the workflow's defaults.
func TestWatchFlagsOptions(t *testing.T) {
	var p Problems
	wf := WatchFlags{approvers: []string{" alice@contoso.com "}, reminderInterval: 2 * time.Hour, webhook: "teams-ops"}
	o := wf.Options(&p, func(n string) bool { return n != "poll-interval" && n != "webhook-url" })
	assert.Empty(t, p)
	assert.Equal(t, workflows.WatchOptions{ReminderInterval: 2 * time.Hour, Approvers: []string{"alice@contoso.com"}, Webhook: "teams-ops"}, o)
	o = (&WatchFlags{}).Options(&p, func(string) bool { return false })
	assert.Empty(t, p)
	assert.Equal(t, workflows.WatchOptions{}, o, "no flag given: the workflow's defaults apply")
}
