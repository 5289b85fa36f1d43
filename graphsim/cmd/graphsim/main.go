// Command graphsim runs the Microsoft Graph beta synchronization simulator
// until SIGINT/SIGTERM. It prints key=value lines for scripts (and writes the
// same lines to <dir>/env), then "ready".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	fs2 "io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/internal/buildinfo"
)

const (
	demoClientID     = "5e1f0c1d-0000-4000-8000-00000000c10d"
	demoClientSecret = "graphsim-demo-secret"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "graphsim:", err)
		os.Exit(1)
	}
}

// run starts the simulator, prints the env lines and "ready", and serves
// until ctx is done.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("graphsim", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8443", "listen address")
	dir := fs.String("dir", "./.graphsim", "directory for ca.pem and env")
	clientID := fs.String("client-id", demoClientID, "accepted client id")
	clientSecret := fs.String("client-secret", demoClientSecret, "accepted client secret")
	tenants := fs.String("known-tenants", "", "comma-separated tenants accepted (empty: any)")
	hosts := fs.String("hosts", "", "comma-separated extra host names or IPs for the certificate; the first is used in the printed URLs (e.g. a compose service name)")
	seed := fs.Int64("seed", 1, "seed for ids and fault draws")
	latency := fs.Duration("latency", 0, "latency added to every Graph request")
	throttle := fs.Float64("throttle-rate", 0, "fraction of Graph requests answered 429")
	unavailable := fs.Float64("unavailable-rate", 0, "fraction of Graph requests answered 503")
	retryAfter := fs.Float64("retry-after", 0, "Retry-After seconds (decimal); 0 draws 0.2..1.0")
	lag := fs.Duration("replication-lag", 3*time.Second, "how long a fresh service principal answers 404")
	discoverFailures := fs.Int("discover-failures", 2, "first N discover calls per tenant fail with 500")
	syncInterval := fs.Duration("sync-interval", time.Second, "sync engine tick")
	jobReadLag := fs.Duration("job-read-lag", graphsim.DefaultJobReadLag, "how long a new job answers GET by id with 404 (0: none)")
	deleteLag := fs.Duration("delete-lag", graphsim.DefaultDeleteLag, "how long reads still show a deleted object (0: none)")
	reevaluation := fs.Duration("quarantine-reevaluation", graphsim.DefaultQuarantineReevaluation, "how often a quarantined job is re-evaluated")
	version := fs.Bool("version", false, "print the version (module version, VCS revision) and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version {
		_, err := fmt.Fprintln(stdout, buildinfo.Read("graphsim"))
		return err
	}

	known, extraHosts := splitList(*tenants), splitList(*hosts)
	absDir, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	if *jobReadLag == 0 {
		*jobReadLag = -1 // Options: negative is none, 0 the default
	}
	if *deleteLag == 0 {
		*deleteLag = -1
	}
	// A start that fails (the port is taken) leaves no directory behind that
	// it made itself.
	_, statErr := os.Stat(absDir)
	made := errors.Is(statErr, fs2.ErrNotExist)
	srv, err := graphsim.New(graphsim.Options{
		Addr: *addr, Dir: absDir, Clients: map[string]string{*clientID: *clientSecret}, KnownTenants: known,
		Hosts: extraHosts, Seed: *seed, Latency: *latency, ThrottleRate: *throttle, UnavailableRate: *unavailable,
		RetryAfterSeconds: *retryAfter, ReplicationLag: *lag, DiscoverFailures: *discoverFailures,
		SyncInterval: *syncInterval, JobReadLag: *jobReadLag, QuarantineReevaluation: *reevaluation,
		DeleteLag: *deleteLag,
	})
	if err != nil {
		if made {
			_ = os.RemoveAll(absDir)
		}
		return err
	}
	defer srv.Close()

	lines := []string{
		"GRAPH_BASE_URL=" + srv.GraphURL(),
		"AZURE_AUTHORITY_HOST=" + srv.AuthorityHost(),
		"SSL_CERT_FILE=" + srv.CAFile(),
		"CONTROL_URL=" + srv.ControlURL(),
		"AZURE_CLIENT_ID=" + *clientID,
	}
	if *clientSecret == demoClientSecret {
		lines = append(lines, "AZURE_CLIENT_SECRET="+demoClientSecret)
	}
	env := strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(absDir, "env"), []byte(env), 0o600); err != nil {
		return err
	}
	fmt.Fprint(stdout, env)
	fmt.Fprintln(stdout, "ready")
	<-ctx.Done()
	return nil
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
