// Package daemonconf edits dockerd's daemon.json: register a runtime as the
// default, and take it out again. Pure functions over the file's bytes;
// every key the file already has is kept as written.
package daemonconf

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// DefaultPath is where dockerd reads its configuration unless started with
// --config-file.
const DefaultPath = "/etc/docker/daemon.json"

// StockRuntime is the runtime dockerd ships with.
const StockRuntime = "runc"

// Keys of daemon.json the doctor edits.
const (
	keyRuntimes       = "runtimes"
	keyDefaultRuntime = "default-runtime"
)

// Config is a parsed daemon.json; unknown keys stay raw.
type Config map[string]json.RawMessage

// runtime is one entry of "runtimes".
type runtime struct {
	Path string   `json:"path"`
	Args []string `json:"runtimeArgs,omitempty"`
}

// Parse reads daemon.json bytes; empty or absent content is an empty config.
func Parse(data []byte) (Config, error) {
	c := Config{}
	if len(bytes.TrimSpace(data)) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("daemon.json: %w", err)
	}
	if c == nil { // the file said null
		c = Config{}
	}
	return c, nil
}

// Bytes is the config as dockerd reads it (indented JSON, sorted keys).
func (c Config) Bytes() []byte {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		// Every value came from json.Unmarshal or json.Marshal.
		panic(fmt.Sprintf("daemon.json: %v", err))
	}
	return append(data, '\n')
}

// DefaultRuntime is the "default-runtime" the file sets ("" when none).
func (c Config) DefaultRuntime() string {
	var s string
	if raw, ok := c[keyDefaultRuntime]; ok {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

func (c Config) runtimes() (map[string]json.RawMessage, error) {
	rts := map[string]json.RawMessage{}
	if raw, ok := c[keyRuntimes]; ok && string(bytes.TrimSpace(raw)) != "null" {
		if err := json.Unmarshal(raw, &rts); err != nil {
			return nil, fmt.Errorf("daemon.json runtimes: %w", err)
		}
	}
	return rts, nil
}

// RuntimePath is the path of runtime name ("" when the file has none).
func (c Config) RuntimePath(name string) string {
	rts, err := c.runtimes()
	if err != nil {
		return ""
	}
	var r runtime
	if raw, ok := rts[name]; ok && json.Unmarshal(raw, &r) == nil {
		return r.Path
	}
	return ""
}

func (c Config) setString(key, value string) {
	raw, _ := json.Marshal(value)
	c[key] = raw
}

func (c Config) clone() Config {
	out := make(Config, len(c))
	for k, v := range c {
		out[k] = v
	}
	return out
}

// WithRuntime returns the config with runtime name at path registered and
// made the default; changed is false when the config already said so.
func (c Config) WithRuntime(name, path string) (out Config, changed bool, err error) {
	if c.RuntimePath(name) == path && c.DefaultRuntime() == name {
		return c, false, nil
	}
	rts, err := c.runtimes()
	if err != nil {
		return nil, false, err
	}
	entry, _ := json.Marshal(runtime{Path: path})
	rts[name] = entry
	out = c.clone()
	raw, _ := json.Marshal(rts)
	out[keyRuntimes] = raw
	out.setString(keyDefaultRuntime, name)
	return out, true, nil
}

// WithDefaultRuntime returns the config with "default-runtime" set to name.
func (c Config) WithDefaultRuntime(name string) Config {
	out := c.clone()
	out.setString(keyDefaultRuntime, name)
	return out
}

// WithoutRuntime returns the config with runtime name unregistered (and
// "runtimes" gone if it was the only one). If name was the default, the
// default becomes restoreDefault, or is dropped when that is "" (dockerd
// then keeps using runc).
func (c Config) WithoutRuntime(name, restoreDefault string) (Config, error) {
	rts, err := c.runtimes()
	if err != nil {
		return nil, err
	}
	out := c.clone()
	delete(rts, name)
	if len(rts) == 0 {
		delete(out, keyRuntimes)
	} else {
		raw, _ := json.Marshal(rts)
		out[keyRuntimes] = raw
	}
	if out.DefaultRuntime() == name {
		if restoreDefault == "" || restoreDefault == name {
			delete(out, keyDefaultRuntime)
		} else {
			out.setString(keyDefaultRuntime, restoreDefault)
		}
	}
	return out, nil
}

// Equal reports whether two configs hold the same JSON values (formatting
// and key order aside).
func (c Config) Equal(o Config) bool {
	if len(c) != len(o) {
		return false
	}
	for k, v := range c {
		w, ok := o[k]
		if !ok || !jsonEqual(v, w) {
			return false
		}
	}
	return true
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
