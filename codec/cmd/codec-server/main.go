// Command codec-server decrypts (and encrypts) cloudsync's Temporal payloads
// for the Temporal Web UI and CLI, with the same keys as the worker.
//
//	CLOUDSYNC_CODEC_KEYS=kid1=<base64 32 bytes> CLOUDSYNC_CODEC_AUTH_TOKEN=... \
//	    codec-server -addr 127.0.0.1:8081 -allowed-origin http://localhost:8233
//
// Point the Web UI at it (Settings → Codec Server, or the UI's codec endpoint
// configuration; dev server: temporal server start-dev --ui-codec-endpoint
// http://127.0.0.1:8081) and the CLI with --codec-endpoint.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cloudsync/cloudsync/codec"
	"github.com/cloudsync/cloudsync/internal/buildinfo"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv))
}

type origins []string

func (o *origins) String() string { return strings.Join(*o, ",") }
func (o *origins) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimRight(strings.TrimSpace(s), "/"); s != "" {
			*o = append(*o, s)
		}
	}
	return nil
}

func run(args []string, getenv func(string) string) int {
	fs := flag.NewFlagSet("codec-server", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8081", "listen address")
	var allowed origins
	fs.Var(&allowed, "allowed-origin", "browser origin allowed to call (the Web UI's, e.g. http://localhost:8233); repeat or comma-separate; default $CLOUDSYNC_CODEC_ALLOWED_ORIGINS")
	certFile := fs.String("tls-cert", "", "serve HTTPS with this certificate (PEM); needed when the Web UI is served over https")
	keyFile := fs.String("tls-key", "", "the certificate's key (PEM)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "codec-server: Temporal remote codec server for cloudsync's encrypted payloads.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), `
Environment:
  %s, %s
      keys "kid1=<base64 32 bytes>,kid2=..." (or a file in that format); the same as the worker's
  %s
      the active key id (used by /encode)
  %s
      if set, requests need "Authorization: Bearer <token>"
  CLOUDSYNC_CODEC_ALLOWED_ORIGINS
      default for -allowed-origin
`, codec.EnvKeys, codec.EnvKeysFile, codec.EnvKeyID, codec.EnvAuthToken)
	}
	version := fs.Bool("version", false, "print the version (module version, VCS revision) and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *version {
		fmt.Println(buildinfo.Read("codec-server"))
		return 0
	}
	if len(allowed) == 0 {
		_ = allowed.Set(getenv("CLOUDSYNC_CODEC_ALLOWED_ORIGINS"))
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	c, err := codec.FromEnv(getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "codec-server:", err)
		return 2
	}
	if c == nil {
		fmt.Fprintf(os.Stderr, "codec-server: no keys: set %s or %s\n", codec.EnvKeys, codec.EnvKeysFile)
		return 2
	}
	if (*certFile == "") != (*keyFile == "") {
		fmt.Fprintln(os.Stderr, "codec-server: -tls-cert and -tls-key go together")
		return 2
	}
	token := getenv(codec.EnvAuthToken)
	if token == "" {
		log.Warn("no " + codec.EnvAuthToken + ": anyone who reaches this address can decrypt payloads")
	}
	h := codec.NewHandler(codec.ServerOptions{Codec: c, AllowedOrigins: allowed, AuthToken: token})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "codec-server:", err)
		return 1
	}
	srv := &http.Server{Handler: logRequests(log, h), ReadHeaderTimeout: 10 * time.Second}
	log.Info("codec server listening", "addr", ln.Addr().String(), "codec", c.String(), "allowedOrigins", []string(allowed), "auth", token != "", "tls", *certFile != "")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if *certFile != "" {
		err = srv.ServeTLS(ln, *certFile, *keyFile)
	} else {
		err = srv.Serve(ln)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "codec-server:", err)
		return 1
	}
	return 0
}

// logRequests logs method, path, status and duration (never bodies).
func logRequests(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		log.Info("request", "method", r.Method, "path", r.URL.Path, "origin", r.Header.Get("Origin"), "status", sw.status, "duration", time.Since(start))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
