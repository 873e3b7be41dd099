package config

import (
	"fmt"
	"os"
)

// Environment variables. EnvConfig is read by the caller, to find the file Load reads; the
// others are read by Load through the getenv it is given.
const (
	EnvConfig    = "LANYARD_CONFIG"
	EnvAddr      = "LANYARD_ADDR"
	EnvData      = "LANYARD_DATA"
	EnvStore     = "LANYARD_STORE"
	EnvRedis     = "LANYARD_REDIS"
	EnvUpstream  = "LANYARD_UPSTREAM"
	EnvTLSCert   = "LANYARD_TLS_CERT"
	EnvTLSKey    = "LANYARD_TLS_KEY"
	EnvLogFormat = "LANYARD_LOG_FORMAT"
	EnvNodeID    = "LANYARD_NODE_ID"
)

// Overrides are the flags of `lanyard serve` (CONTRACT §1) that were set: a nil field was not
// given and leaves the value alone; a non-nil one wins over the file and the environment, even
// when it points to "".
type Overrides struct {
	Addr      *string // --addr → Server.Addr
	Data      *string // --data → Server.Data
	Store     *string // --store → Server.Store
	Redis     *string // --redis → Server.Redis
	Upstream  *string // --upstream → Gateway.Upstream
	TLSCert   *string // --tls-cert → Server.TLSCert
	TLSKey    *string // --tls-key → Server.TLSKey
	LogFormat *string // --log-format → Server.LogFormat
	NodeID    *string // --node-id → Server.NodeID
}

// targets lists each overridable value with its env variable and flag.
func (c *Config) targets(o Overrides) []struct {
	env  string
	flag *string
	dst  *string
} {
	return []struct {
		env  string
		flag *string
		dst  *string
	}{
		{EnvAddr, o.Addr, &c.Server.Addr},
		{EnvData, o.Data, &c.Server.Data},
		{EnvStore, o.Store, &c.Server.Store},
		{EnvRedis, o.Redis, &c.Server.Redis},
		{EnvUpstream, o.Upstream, &c.Gateway.Upstream},
		{EnvTLSCert, o.TLSCert, &c.Server.TLSCert},
		{EnvTLSKey, o.TLSKey, &c.Server.TLSKey},
		{EnvLogFormat, o.LogFormat, &c.Server.LogFormat},
		{EnvNodeID, o.NodeID, &c.Server.NodeID},
	}
}

// Load builds the Config: the built-in default, overlaid by the YAML file at path (when path is
// not ""), then by the environment as getenv reports it (nil: no environment), then by the
// flags in o. Flags beat env, env beats the file. The result is validated as a whole.
func Load(path string, getenv func(string) string, o Overrides) (*Config, error) {
	c := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := decodeFile(b, c); err != nil {
			return nil, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	for _, t := range c.targets(o) {
		if getenv != nil {
			if v := getenv(t.env); v != "" {
				*t.dst = v
			}
		}
		if t.flag != nil {
			*t.dst = *t.flag
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse returns the built-in default overlaid by the YAML document b, validated. An empty
// document (or one of only comments) is the default.
func Parse(b []byte) (*Config, error) {
	c := Default()
	if err := decodeFile(b, c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}
