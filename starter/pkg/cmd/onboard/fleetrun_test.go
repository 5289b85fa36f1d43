package onboard

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vbauerster/mpb/v8"

	"github.com/cloudsync/cloudsync/starter/pkg/cmd/cmdtest"
)

func TestProgressLine(t *testing.T) {
	run := &fleetRun{}
	for _, s := range []string{rowCompleted, rowNoChange, rowFailed, rowRunning, rowRunning, rowPending} {
		run.rows = append(run.rows, &fleetRow{state: s})
	}
	line := progressLine(run, fleetOptions{wait: true})
	assert.True(t, strings.HasPrefix(line, "3/6 done: 2 completed, 1 failed; 2 running, 1 to start"), line)
	line = progressLine(run, fleetOptions{})
	assert.True(t, strings.HasPrefix(line, "4/6 started, 1 could not start"), line)

	// Interrupted: what was not followed is not "done".
	lost := &fleetRun{rows: []*fleetRow{{state: rowLost}, {state: rowLost}}}
	line = progressLine(lost, fleetOptions{wait: true})
	assert.True(t, strings.HasPrefix(line, "0/2 done: 0 completed, 0 failed; 0 running, 0 to start, 2 not followed (they go on: starter list)"), line)

	// No worker: the hint a single onboard gives.
	idle := &fleetRun{rows: []*fleetRow{{state: rowRunning}}, hint: `no worker is polling task queue "cloudsync"`}
	line = progressLine(idle, fleetOptions{wait: true})
	assert.Contains(t, line, `1 running, 0 to start`)
	assert.True(t, strings.HasSuffix(line, `; no worker is polling task queue "cloudsync"`), line)
}

// On a terminal the bar (mpb) fills with the rows done and ends on the last
// state, followed by the progress line cut to the width; the hint has a row of
// its own, so a long one never pushes the bar out.
func TestFleetBarOnATerminal(t *testing.T) {
	run := &fleetRun{started: time.Now()}
	for range 6 {
		run.rows = append(run.rows, &fleetRow{state: rowPending})
	}
	var out cmdtest.SyncBuffer
	// A buffer is no terminal: auto refresh and a width stand in for one.
	stop := fleetBar(run, fleetOptions{wait: true}, mpb.WithOutput(&out), mpb.WithAutoRefresh(), mpb.WithWidth(100))
	for i, s := range []string{rowCompleted, rowNoChange, rowFailed, rowRunning, rowRunning} {
		run.set(run.rows[i], s, "")
	}
	hint := `no worker is polling task queue "cloudsync" in namespace "default" at 127.0.0.1:7233: start one`
	run.setHint(hint)
	stop()
	screen := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.GreaterOrEqual(t, len(screen), 2, "%q", out.String())
	barLine, hintLine := screen[len(screen)-2], screen[len(screen)-1]
	assert.Contains(t, barLine, "[###############...............] 3/6 done: 2 completed, 1 failed; 2 running, 1 to start", "%q", out.String())
	assert.LessOrEqual(t, len([]rune(barLine)), 100, "cut to the width: %q", barLine)
	assert.Equal(t, hint, strings.TrimSpace(hintLine))
}
