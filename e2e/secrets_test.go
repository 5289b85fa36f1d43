package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/workflows"
)

// wrongSecret is the client secret of the misconfigured worker (failures_test.go).
const wrongSecret = "e2e-wrong-secret-Zx9~also-not-real"

// secretSet is what must never appear in a workflow history or a worker log:
// the client secrets, every access token a simulator issued, and the secret
// payloads cloudsync writes (AppKey, SyncNotificationSettings).
type secretSet struct {
	mu     sync.Mutex
	values map[string]string // needle -> what it is
	tokens map[string]bool   // access tokens ("gsim.…"), looked up by prefix
}

var secrets = &secretSet{values: map[string]string{}, tokens: map[string]bool{}}

func init() {
	secrets.add(clientSecret, "the client secret")
	secrets.add(wrongSecret, "the wrong client secret")
	// The AppKey payloads, and keys that exist only inside secret payloads.
	for _, s := range []string{workflows.TemplatePasswordHash, workflows.TemplateProvisioning} {
		secrets.add(`{"appKeyScenario":"`+s+`"}`, "an AppKey payload")
	}
	secrets.add("appKeyScenario", "the AppKey payload's key")
	secrets.add("DeleteThresholdValue", "a SyncNotificationSettings payload's key")
}

// add registers a needle, with its JSON-escaped form (a payload nested in a
// JSON string).
func (s *secretSet) add(v, what string) {
	if v == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[v] = what
	if esc := strings.ReplaceAll(v, `"`, `\"`); esc != v {
		s.values[esc] = what + " (escaped)"
	}
}

func (s *secretSet) addToken(tok string) {
	s.mu.Lock()
	s.tokens[tok] = true
	s.mu.Unlock()
}

// registerSimSecrets adds a simulator's tokens and the secret payloads it holds.
func registerSimSecrets(sim *graphsim.Server) {
	for _, tok := range sim.IssuedTokens() {
		secrets.addToken(tok)
	}
	for _, tenant := range sim.Tenants() {
		for _, kv := range sim.Snapshot(tenant).Secrets {
			secrets.add(kv["AppKey"], "an AppKey payload")
			secrets.add(kv["SyncNotificationSettings"], "a SyncNotificationSettings payload")
		}
	}
}

// find returns what of the set occurs in b.
func (s *secretSet) find(b []byte) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []string
	for v, what := range s.values {
		if bytes.Contains(b, []byte(v)) {
			found = append(found, what)
		}
	}
	// Tokens: every "gsim." followed by a token's characters.
	for rest := b; ; {
		i := bytes.Index(rest, []byte("gsim."))
		if i < 0 {
			break
		}
		j := i + len("gsim.")
		for j < len(rest) && (isAlnum(rest[j]) || rest[j] == '-' || rest[j] == '_') {
			j++
		}
		if s.tokens[string(rest[i:j])] {
			found = append(found, "an access token")
		} else if j-i > 40 {
			found = append(found, "something shaped like an access token")
		}
		rest = rest[j:]
	}
	return found
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// figures are what the suites print at the end (and the README quotes).
var figures = struct {
	sync.Mutex
	onboardings        int // onboardings that completed under test
	kills              int // SIGKILLs survived
	serverRestarts     int
	faults             map[string]int // injected faults by kind
	badInputs          int            // refused bad inputs
	duplicates         int            // duplicate apps, SPs, jobs, CredentialData mappings, masked writes
	workflowsScanned   int
	eventsScanned      int
	secretsInHistories int
	logBytesScanned    int
	secretsInLogs      int
	crossTenant        int
}{faults: map[string]int{}}

func addFigure(f func()) {
	figures.Lock()
	defer figures.Unlock()
	f()
}

// historyScan reads every history on a dev server and looks for secrets.
type historyScan struct {
	workflows, events int
	findings          []string
}

func scanHistories(c client.Client) (historyScan, error) {
	var res historyScan
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: 1000, NextPageToken: token})
		if err != nil {
			return res, fmt.Errorf("list workflows: %w", err)
		}
		for _, ex := range resp.Executions {
			id, run := ex.Execution.WorkflowId, ex.Execution.RunId
			if strings.HasPrefix(id, plantedPrefix) {
				continue
			}
			b, n, err := readHistory(ctx, c, id, run)
			if err != nil {
				return res, err
			}
			res.events += n
			res.workflows++
			for _, what := range secrets.find(b) {
				res.findings = append(res.findings, fmt.Sprintf("%s in the history of %s (run %s)", what, id, run))
			}
		}
		if token = resp.NextPageToken; len(token) == 0 {
			return res, nil
		}
	}
}

// readHistory returns every event of a run twice: protojson shows strings
// (failure messages, summaries) as text but payload bytes as base64, the binary
// form has the payload bytes (our JSON) verbatim.
func readHistory(ctx context.Context, c client.Client, id, run string) ([]byte, int, error) {
	it := c.GetWorkflowHistory(ctx, id, run, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var buf bytes.Buffer
	n := 0
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, n, fmt.Errorf("history of %s/%s: %w", id, run, err)
		}
		n++
		j, err := protojson.Marshal(ev)
		if err != nil {
			return nil, n, err
		}
		b, err := proto.Marshal(ev)
		if err != nil {
			return nil, n, err
		}
		buf.Write(j)
		buf.WriteByte('\n')
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes(), n, nil
}

func recordScan(res historyScan) {
	addFigure(func() {
		figures.workflowsScanned += res.workflows
		figures.eventsScanned += res.events
		figures.secretsInHistories += len(res.findings)
	})
}

// scanOwnServer scans an own dev server's histories before it stops.
func (e *env) scanOwnServer(t *testing.T) {
	registerSimSecrets(e.sim)
	res, err := scanHistories(e.client)
	if err != nil {
		t.Errorf("env %s: history scan: %v", e.cfg.name, err)
		return
	}
	recordScan(res)
	t.Logf("env %s: scanned %d workflow histories (%d events) for secrets: %d found", e.cfg.name, res.workflows, res.events, len(res.findings))
	for _, f := range res.findings {
		t.Errorf("secret leaked: %s", f)
	}
}

// scanWorkerLog checks the worker output (zap JSON logs, the SDK's logs).
func (e *env) scanWorkerLog(t *testing.T) {
	registerSimSecrets(e.sim)
	out := e.workerOutput()
	found := secrets.find([]byte(out))
	addFigure(func() {
		figures.logBytesScanned += len(out)
		figures.secretsInLogs += len(found)
	})
	for _, f := range found {
		t.Errorf("env %s: %s in the worker log", e.cfg.name, f)
	}
}

// afterSuites runs once the tests are done: it scans every history on the
// shared dev server (which the fault, failure and isolation suites also use)
// and the shared worker's log, prints the figures, and fails the run if a
// secret was found.
func afterSuites(code int, sh *env) int {
	if sh == nil {
		printFigures()
		return code
	}
	registerSimSecrets(sh.sim)
	res, err := scanHistories(sh.client)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: secrets scan of the shared dev server: %v\n", err)
		return 1
	}
	recordScan(res)
	out := sh.workerOutput()
	logFound := secrets.find([]byte(out))
	addFigure(func() {
		figures.logBytesScanned += len(out)
		figures.secretsInLogs += len(logFound)
	})
	for _, f := range res.findings {
		fmt.Fprintf(os.Stderr, "FAIL: secret leaked: %s\n", f)
	}
	for _, f := range logFound {
		fmt.Fprintf(os.Stderr, "FAIL: secret leaked: %s in the shared worker's log\n", f)
	}
	printFigures()
	if len(res.findings) > 0 || len(logFound) > 0 {
		return 1
	}
	return code
}

func printFigures() {
	figures.Lock()
	defer figures.Unlock()
	if figures.onboardings+figures.badInputs+figures.workflowsScanned+figures.logBytesScanned == 0 {
		return // nothing ran
	}
	var kinds []string
	total := 0
	for k, n := range figures.faults {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	sort.Strings(kinds)
	secrets.mu.Lock()
	needles, tokens := len(secrets.values), len(secrets.tokens)
	secrets.mu.Unlock()
	fmt.Printf(`
== cloudsync reliability figures (this run) ==
onboardings completed under test:   %d
worker SIGKILLs survived:           %d
dev server restarts survived:       %d
Graph faults injected:              %d (%s)
bad inputs refused:                 %d
duplicates found:                   %d
cross-tenant token uses:            %d
histories scanned:                  %d workflows, %d events
secrets found in histories:         %d (looked for %d values and %d access tokens)
worker log bytes scanned:           %d, secrets found: %d
`, figures.onboardings, figures.kills, figures.serverRestarts, total, strings.Join(kinds, ", "),
		figures.badInputs, figures.duplicates, figures.crossTenant, figures.workflowsScanned, figures.eventsScanned,
		figures.secretsInHistories, needles, tokens, figures.logBytesScanned, figures.secretsInLogs)
}

// plantedPrefix marks the workflows TestSecretScannerFindsPlantedSecrets
// fills with secrets on purpose; the end-of-run scan skips them.
const plantedPrefix = "e2e-planted-secrets/"

// TestSecretScannerFindsPlantedSecrets guards the guard: a real history that
// does carry the client secret, a token and an AppKey payload in a workflow
// input is reported by the same code the end-of-run scan uses.
func TestSecretScannerFindsPlantedSecrets(t *testing.T) {
	e := setup(t)
	t.Parallel()
	const planted = "gsim.planted-token-0123456789abcdefghijklmnopqrstuvw"
	secrets.addToken(planted)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id := plantedPrefix + "1"
	run, err := e.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "e2e-nobody-polls"}, "Nothing",
		map[string]string{"secret": clientSecret, "token": planted, "appKey": `{"appKeyScenario":"AD2AADPasswordHash"}`})
	require.NoError(t, err)
	require.NoError(t, e.client.TerminateWorkflow(ctx, id, run.GetRunID(), "planted"))
	buf, n := historyBytes(ctx, t, e.client, id, run.GetRunID())
	require.Positive(t, n)
	found := strings.Join(secrets.find(buf), "; ")
	require.Contains(t, found, "the client secret")
	require.Contains(t, found, "an access token")
	require.Contains(t, found, "an AppKey payload")
}

func historyBytes(ctx context.Context, t *testing.T, c client.Client, id, run string) ([]byte, int) {
	t.Helper()
	b, n, err := readHistory(ctx, c, id, run)
	require.NoError(t, err)
	return b, n
}

// TestTenantIsolationUnderConcurrentOnboardings onboards many tenants at once
// through one worker (one Graph client and token cache per tenant) and checks
// that no request used a token of another tenant: graphsim records none, and
// every request that names a tenant's service principal carried that tenant's
// token.
func TestTenantIsolationUnderConcurrentOnboardings(t *testing.T) {
	e := setup(t)
	t.Parallel()
	const n = 24
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	specs := make([]workflows.TenantSpec, n)
	errs := make([]error, n)
	results := make([]workflows.OnboardResult, n)
	for i := range specs {
		specs[i] = fullSpec(tenantN(0x15014700, i), fmt.Sprintf("iso%02d.contoso.com", i), 30)
		specs[i].ExchangeHybridWriteback = i%2 == 0
		// Every tenant exists before anyone asks (as in Entra): graphsim then
		// tells a token of another tenant from an unknown tenant.
		e.sim.SetTenantOptions(specs[i].TenantID, graphsim.TenantOptions{})
	}
	t0 := time.Now()
	runAll(n, func(i int) {
		results[i], errs[i] = e.onboard(ctx, workflows.OnboardInput{Spec: specs[i], Watch: ptr(false)})
	})
	cross := 0
	for _, v := range e.sim.Violations() {
		if v.Kind == graphsim.ViolationCrossTenantToken {
			cross++
			t.Errorf("cross-tenant token: %+v", v)
		}
	}
	for i, err := range errs {
		require.NoError(t, err, "tenant %d", i)
	}
	t.Logf("%d concurrent onboardings in %s", n, since(t0))
	owner := map[string]string{} // service principal -> tenant
	for i, s := range specs {
		requireOnboarded(t, e.sim, s, false)
		owner[results[i].ServicePrincipalID] = s.TenantID
	}
	checked := 0
	for _, r := range e.sim.RequestLog() {
		for sp, tenant := range owner {
			if strings.Contains(r.Path, sp) {
				require.Equal(t, tenant, r.Tenant, "%s %s used a token of tenant %s", r.Method, r.Path, r.Tenant)
				checked++
			}
		}
	}
	t.Logf("%d requests on the tenants' service principals, each with its own tenant's token; %d cross-tenant violations", checked, cross)
	addFigure(func() {
		figures.onboardings += n
		figures.crossTenant += cross
	})
}
