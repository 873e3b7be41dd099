package testenv

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a tb that writes down what need decided instead of ending the test.
type recorder struct {
	helper        bool
	skips, fatals []string
}

func (r *recorder) Helper() { r.helper = true }
func (r *recorder) Skipf(format string, a ...any) {
	r.skips = append(r.skips, fmt.Sprintf(format, a...))
}
func (r *recorder) Fatalf(format string, a ...any) {
	r.fatals = append(r.fatals, fmt.Sprintf(format, a...))
}

func TestNeedDecides(t *testing.T) {
	const env = "LANYARD_TEST_SOMETHING"
	tests := []struct {
		name    string
		vars    map[string]string
		want    string // the value returned
		outcome string // "run", "skip" or "fail"
	}{
		{"set", map[string]string{env: "postgres://db"}, "postgres://db", "run"},
		{"set and required", map[string]string{env: "postgres://db", RequireEnv: "1"}, "postgres://db", "run"},
		{"set with spaces", map[string]string{env: " redis://r \n"}, "redis://r", "run"},
		{"unset", nil, "", "skip"},
		{"unset, require 0", map[string]string{RequireEnv: "0"}, "", "skip"},
		{"blank", map[string]string{env: "  "}, "", "skip"},
		{"unset and required", map[string]string{RequireEnv: "1"}, "", "fail"},
		{"blank and required", map[string]string{env: "\t", RequireEnv: "1"}, "", "fail"},
		{"unset, require misspelt", map[string]string{RequireEnv: "true"}, "", "fail"},
		{"unset, require with space", map[string]string{RequireEnv: "1 "}, "", "fail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r recorder
			getenv := func(k string) string { return tt.vars[k] } // never the real environment
			got := need(&r, getenv, env, "Something")
			if got != tt.want {
				t.Errorf("value = %q, want %q", got, tt.want)
			}
			if !r.helper {
				t.Error("need did not call t.Helper")
			}
			outcome := "run"
			switch {
			case len(r.skips)+len(r.fatals) > 1:
				t.Fatalf("more than one decision: skips %q, fatals %q", r.skips, r.fatals)
			case len(r.skips) == 1:
				outcome = "skip"
			case len(r.fatals) == 1:
				outcome = "fail"
			}
			if outcome != tt.outcome {
				t.Fatalf("outcome %s, want %s (skips %q, fatals %q)", outcome, tt.outcome, r.skips, r.fatals)
			}
			// The reason names the variable to set, so whoever reads it knows what to do.
			for _, msg := range append(r.skips, r.fatals...) {
				if !strings.Contains(msg, env) {
					t.Errorf("message %q does not name %s", msg, env)
				}
			}
		})
	}
}

// A program is its variable when set, else found on PATH, else Need's skip or failure.
func TestProgramDecides(t *testing.T) {
	const env = "LANYARD_TEST_SOMEPROGRAM"
	found := func(string) (string, error) { return "/usr/bin/someprogram", nil }
	missing := func(name string) (string, error) { return "", fmt.Errorf("%s: not found", name) }
	tests := []struct {
		name     string
		vars     map[string]string
		lookPath func(string) (string, error)
		want     string
		outcome  string
	}{
		{"set", map[string]string{env: "/opt/someprogram"}, found, "/opt/someprogram", "run"},
		{"on PATH", nil, found, "/usr/bin/someprogram", "run"},
		{"blank, on PATH", map[string]string{env: " "}, found, "/usr/bin/someprogram", "run"},
		{"nowhere", nil, missing, "", "skip"},
		{"nowhere and required", map[string]string{RequireEnv: "1"}, missing, "", "fail"},
		{"on PATH and required", map[string]string{RequireEnv: "1"}, found, "/usr/bin/someprogram", "run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r recorder
			getenv := onPath(func(k string) string { return tt.vars[k] }, tt.lookPath, env, "someprogram")
			if got := need(&r, getenv, env, "someprogram"); got != tt.want {
				t.Errorf("value = %q, want %q", got, tt.want)
			}
			outcome := "run"
			if len(r.skips) > 0 {
				outcome = "skip"
			}
			if len(r.fatals) > 0 {
				outcome = "fail"
			}
			if outcome != tt.outcome || len(r.skips)+len(r.fatals) > 1 {
				t.Fatalf("outcome %s, want %s (skips %q, fatals %q)", outcome, tt.outcome, r.skips, r.fatals)
			}
		})
	}
}

// The wrappers ask for their own variable, through Need.
func TestWrappersNameTheirVariable(t *testing.T) {
	for _, tt := range []struct {
		env string
		get func(testing.TB) string
	}{
		{PostgresEnv, Postgres},
		{RedisEnv, Redis},
		{ChromiumEnv, Chromium},
		{NginxEnv, Nginx},
		{PromtoolEnv, Promtool},
		{RedisServerEnv, RedisServer},
	} {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv(tt.env, "configured-"+tt.env)
			if got := tt.get(t); got != "configured-"+tt.env {
				t.Errorf("got %q, want the value of %s", got, tt.env)
			}
		})
	}
}

// Under the real testing package, an unset variable without LANYARD_TEST_REQUIRE skips the test
// (whatever the environment this runs in says: t.Setenv overrides it for the test).
func TestNeedSkipsARealTest(t *testing.T) {
	const env = "LANYARD_TEST_NOTHING_CONFIGURES_THIS"
	t.Setenv(env, "")
	t.Setenv(RequireEnv, "")
	var sub *testing.T
	ran := false
	t.Run("needs it", func(t *testing.T) {
		sub = t
		Need(t, env, "nothing")
		ran = true
	})
	if !sub.Skipped() || sub.Failed() {
		t.Errorf("skipped %v, failed %v: want a skip", sub.Skipped(), sub.Failed())
	}
	if ran {
		t.Error("the test went on after Need skipped it")
	}
}
