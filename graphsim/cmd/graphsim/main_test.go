package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunPrintsEnvAndServes(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-dir", dir}, pw); pw.Close() }()

	env := map[string]string{}
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		if line == "ready" {
			break
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("unexpected line %q", line)
		}
		env[k] = v
	}
	go io.Copy(io.Discard, pr)
	for _, k := range []string{"GRAPH_BASE_URL", "AZURE_AUTHORITY_HOST", "SSL_CERT_FILE", "CONTROL_URL", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"} {
		if env[k] == "" {
			t.Fatalf("missing %s in %v", k, env)
		}
	}
	if env["AZURE_CLIENT_SECRET"] != demoClientSecret {
		t.Fatalf("secret %q", env["AZURE_CLIENT_SECRET"])
	}
	file, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil || !strings.Contains(string(file), "GRAPH_BASE_URL="+env["GRAPH_BASE_URL"]) {
		t.Fatalf("env file: %v %q", err, file)
	}
	pem, err := os.ReadFile(env["SSL_CERT_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	res, err := c.Get(env["CONTROL_URL"] + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("stats: %d", res.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return")
	}
}

func TestRunHidesCustomSecret(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out strings.Builder
	done := make(chan error, 1)
	pr, pw := io.Pipe()
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-dir", t.TempDir(), "-client-secret", "hunter2"}, pw)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() && sc.Text() != "ready" {
		out.WriteString(sc.Text() + "\n")
	}
	go io.Copy(io.Discard, pr)
	cancel()
	<-done
	if strings.Contains(out.String(), "hunter2") || strings.Contains(out.String(), "AZURE_CLIENT_SECRET") {
		t.Fatalf("secret printed: %s", out.String())
	}
}

func TestRunHostsFlagSetsPrintedHost(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-dir", t.TempDir(), "-hosts", " graphsim , 10.0.0.7,"}, pw)
		pw.Close()
	}()
	env := map[string]string{}
	sc := bufio.NewScanner(pr)
	for sc.Scan() && sc.Text() != "ready" {
		k, v, _ := strings.Cut(sc.Text(), "=")
		env[k] = v
	}
	go io.Copy(io.Discard, pr)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"GRAPH_BASE_URL", "AZURE_AUTHORITY_HOST", "CONTROL_URL"} {
		if !strings.HasPrefix(env[k], "https://graphsim:") {
			t.Fatalf("%s=%q, want the first -hosts name", k, env[k])
		}
	}
}

// A start that fails (the port is taken) leaves no directory behind; one that
// existed before is left alone.
func TestFailedStartLeavesNoDirectory(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := filepath.Join(t.TempDir(), ".graphsim")
	err = run(context.Background(), []string{"-addr", ln.Addr().String(), "-dir", dir}, io.Discard)
	if err == nil {
		t.Fatal("started on a port that is taken")
	}
	if _, serr := os.Stat(dir); !os.IsNotExist(serr) {
		t.Fatalf("a failed start left %s behind (%v)", dir, serr)
	}
	existing := t.TempDir()
	if err := run(context.Background(), []string{"-addr", ln.Addr().String(), "-dir", existing}, io.Discard); err == nil {
		t.Fatal("started on a port that is taken")
	}
	if _, serr := os.Stat(existing); serr != nil {
		t.Fatalf("an existing directory was removed: %v", serr)
	}
}
