package main

import (
	"os"
	"testing"
)

func TestRunRefusesBadConfiguration(t *testing.T) {
	stderr := os.Stderr
	devnull, _ := os.Open(os.DevNull)
	os.Stderr = devnull
	defer func() { os.Stderr = stderr; devnull.Close() }()
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	const key = "kid1=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		want int
	}{
		"help":         {[]string{"-h"}, nil, 0},
		"no keys":      {nil, nil, 2},
		"bad keys":     {nil, map[string]string{"CLOUDSYNC_CODEC_KEYS": "kid1=short"}, 2},
		"half TLS":     {[]string{"-tls-cert", "c.pem"}, map[string]string{"CLOUDSYNC_CODEC_KEYS": key}, 2},
		"unknown flag": {[]string{"-nope"}, nil, 2},
		"bad address":  {[]string{"-addr", "256.0.0.1:1"}, map[string]string{"CLOUDSYNC_CODEC_KEYS": key}, 1},
	} {
		t.Run(name, func(t *testing.T) {
			if code := run(tc.args, env(tc.env)); code != tc.want {
				t.Fatalf("exit %d, want %d", code, tc.want)
			}
		})
	}
}
