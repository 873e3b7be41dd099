package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

// The five presets of CONTRACT §10. Each must parse, validate, and say what the contract's table
// says. examples/<preset>/lanyard.yaml is the one copy of a preset users run; the presets not
// yet shipped there are still in testdata.
func TestPresets(t *testing.T) {
	for _, tc := range []struct {
		preset string
		check  func(t *testing.T, c *Config)
	}{
		{"layered-tokens", func(t *testing.T, c *Config) {
			wantSchema(t, c, map[string][]string{"event": nil, "collaborator": {"event"}, "area": {"event"}}, "event")
			wantSources(t, c, Source{Type: SourceBearer})
			want := map[string]Exchange{
				"event":        {Path: "/Events/{id}/authorize", Header: "x-Event-Token", TTL: time.Hour},
				"collaborator": {Path: "/Collaborators/{id}/authorize", Header: "x-Collaborator-Token", Requires: "event", TTL: time.Hour},
				"area":         {Path: "/Areas/{id}/authorize", Header: "x-Area-Token", Requires: "event", TTL: time.Hour},
			}
			if !reflect.DeepEqual(c.Exchange, want) {
				t.Errorf("exchange = %+v", c.Exchange)
			}
			for _, r := range c.Gateway.Routes {
				if r.Resource == nil || len(r.Tokens) == 0 || !slices.Contains(r.Tokens, r.Resource.Type) {
					t.Errorf("route %s does not need the token of its resource: %+v", r.Path, r)
				}
			}
			wantRoute(t, c, "/Collaborators/{id}/{rest...}", "collaborator", "event", "collaborator")
		}},
		{"business-keys", func(t *testing.T, c *Config) {
			wantSchema(t, c, map[string][]string{"business": nil}, "business")
			wantSources(t, c, Source{Type: SourceBearer})
			if !c.API.Envelope || c.API.Prefix != "/v1" {
				t.Errorf("api = %+v, want the envelope under /v1", c.API)
			}
			if c.Tokens.PersonalTTL != 24*time.Hour {
				t.Errorf("personal_ttl = %s", c.Tokens.PersonalTTL)
			}
			for name, limit := range map[string]int64{"free": 60, "basic": 120, "professional": 300, "enterprise": 1000} {
				want := Plan{Bucket: BucketResource, Windows: []Window{{Limit: limit, Window: time.Minute}}}
				if got := c.Plans[name]; !reflect.DeepEqual(got, want) {
					t.Errorf("plans.%s = %+v, want %+v", name, got, want)
				}
			}
			if len(c.Plans) != 4 || c.DefaultPlan != "free" {
				t.Errorf("plans = %v, default %q", c.Plans, c.DefaultPlan)
			}
			wantRoute(t, c, "/v1/objects/{rest...}", "business")
		}},
		{"role-apis", func(t *testing.T, c *Config) {
			wantSchema(t, c, map[string][]string{"entity_type": nil, "policy": nil}, "entity_type", "policy")
			wantSources(t, c, Source{Type: SourceHeader, Name: "x-bbk-auth-token"})
			for role, want := range map[string]Perms{"contributor": PermWrite, "consumer": PermRead, "admin": PermAll, "observer": PermRead, "member": PermRead | PermWrite} {
				if got, ok := c.Permissions(role); !ok || got != want {
					t.Errorf("role %s = %v, want %v", role, got, want)
				}
			}
			wantRoute(t, c, "/contributor/{rest...}", "entity_type")
			wantRoute(t, c, "/consumer/{rest...}", "policy")
			if r := findRoute(c, "/coordinator/{rest...}"); r == nil || !r.Admin {
				t.Errorf("the coordinator API is not admin only: %+v", r)
			}
		}},
		{"org-scopes", func(t *testing.T, c *Config) {
			wantSchema(t, c, map[string][]string{
				"domain": nil, "organization": {"domain"}, "project": {"organization"}, "scene": {"project"},
			}, "domain", "organization")
			wantSources(t, c, Source{Type: SourceScheme, Scheme: "APIKEY:ORGANIZATION"}, Source{Type: SourceBearer})
			wantRoute(t, c, "/organizations/{id}/{rest...}", "organization")
			wantRoute(t, c, "/scenes/{id}", "scene")
		}},
		{"key-secret", func(t *testing.T, c *Config) {
			wantSchema(t, c, map[string][]string{"event_type": nil, "event": {"event_type"}}, "event_type")
			wantSources(t, c, Source{Type: SourceBasic}, Source{Type: SourceBearer})
			if c.Keys.DefaultFormat != FormatKeySecret {
				t.Errorf("keys.default_format = %q", c.Keys.DefaultFormat)
			}
			wantRoute(t, c, "/events/{id}/{rest...}", "event")
		}},
	} {
		t.Run(tc.preset, func(t *testing.T) {
			path := presetPath(tc.preset)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			// CONTRACT §10: every preset runs with --upstream URL.
			c2, err := Load(path, nil, Overrides{Upstream: ptr("http://127.0.0.1:9999")})
			if err != nil || c2.Gateway.Upstream != "http://127.0.0.1:9999" {
				t.Fatalf("with --upstream: %v", err)
			}
			// The presets change no server, password, login or cache setting.
			d := Default()
			if !reflect.DeepEqual(c.Server, d.Server) || c.Passwords != d.Passwords || c.Login != d.Login || c.Cache != d.Cache {
				t.Errorf("preset changes server-level settings")
			}
			tc.check(t, c)
		})
	}
}

// TestPresetsHaveOneCopy: a preset that ships in examples/ is not also kept in testdata, where
// a test could pass on a copy that users never run.
func TestPresetsHaveOneCopy(t *testing.T) {
	shipped, _ := filepath.Glob(filepath.Join("..", "..", "examples", "*", "lanyard.yaml"))
	if len(shipped) == 0 {
		t.Fatal("no preset in examples/")
	}
	for _, p := range shipped {
		name := filepath.Base(filepath.Dir(p))
		if _, err := os.Stat(filepath.Join("testdata", name+".yaml")); err == nil {
			t.Errorf("the preset %s is in examples/ and in testdata/", name)
		}
	}
}

// presetPath is where a preset's config is: examples/<preset>/lanyard.yaml once it ships there,
// testdata/<preset>.yaml until then.
func presetPath(preset string) string {
	p := filepath.Join("..", "..", "examples", preset, "lanyard.yaml")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return filepath.Join("testdata", preset+".yaml")
}

// presetPaths lists every preset config, shipped or not.
func presetPaths() []string {
	shipped, _ := filepath.Glob(filepath.Join("..", "..", "examples", "*", "lanyard.yaml"))
	rest, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	return append(shipped, rest...)
}

func ptr(s string) *string { return &s }

func wantSchema(t *testing.T, c *Config, parents map[string][]string, roots ...string) {
	t.Helper()
	if len(c.Schema) != len(parents) {
		t.Errorf("schema types = %v, want %v", c.Schema.Types(), parents)
	}
	for typ, ps := range parents {
		if got := c.Schema.Parents(typ); !slices.Equal(got, ps) {
			t.Errorf("schema %s parents = %v, want %v", typ, got, ps)
		}
		if got, want := c.Schema.IsRoot(typ), slices.Contains(roots, typ); got != want {
			t.Errorf("schema %s root = %v, want %v", typ, got, want)
		}
	}
}

func wantSources(t *testing.T, c *Config, want ...Source) {
	t.Helper()
	if !reflect.DeepEqual(c.Sources, want) {
		t.Errorf("sources = %+v, want %+v", c.Sources, want)
	}
}

func findRoute(c *Config, path string) *Route {
	for i := range c.Gateway.Routes {
		if c.Gateway.Routes[i].Path == path {
			return &c.Gateway.Routes[i]
		}
	}
	return nil
}

func wantRoute(t *testing.T, c *Config, path, resourceType string, tokens ...string) {
	t.Helper()
	r := findRoute(c, path)
	if r == nil {
		t.Errorf("no route %s", path)
		return
	}
	if r.Resource == nil || r.Resource.Type != resourceType {
		t.Errorf("route %s resource = %+v, want type %s", path, r.Resource, resourceType)
	}
	if len(tokens) > 0 && !slices.Equal(r.Tokens, tokens) {
		t.Errorf("route %s tokens = %v, want %v", path, r.Tokens, tokens)
	}
}
