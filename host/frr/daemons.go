package frr

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// supportedDaemons are the daemons an Instance can run, in start order:
// zebra first (the others connect to it). Each of them takes every path
// from our flags; other daemons have sockets of their own (bfdd, ldpd) and
// are not supported rather than let them reach for /var/run/frr.
var supportedDaemons = []string{"zebra", "staticd", "bgpd"}

// daemonSpec is one daemon to start and its extra flags.
type daemonSpec struct {
	Name    string
	Options []string
}

// pathFlags are daemon flags that would move a path out of the run dir, or
// change how the daemon is run; the Instance sets them itself.
var pathFlags = []string{
	"-N", "--pathspace", "-f", "--config_file", "-i", "--pid_file",
	"-z", "--socket", "--vty_socket", "-u", "--user", "-g", "--group",
	"-d", "--daemon", "-t", "--terminal", "--log", "-P", "--vty_port",
}

// parseDaemons reads a Debian daemons file: "<daemon>=yes|no",
// "<daemon>_options=\"...\"" and "frr_profile=...". As with frrinit.sh,
// zebra and staticd always run; an empty file runs zebra, staticd and bgpd.
// Other settings (vtysh_enable, watchfrr_*) do not apply here.
func parseDaemons(data []byte) ([]daemonSpec, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("bgpd=yes\n")
	}
	enabled := map[string]bool{"zebra": true, "staticd": true}
	options := map[string][]string{}
	var profile string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, value, ok := strings.Cut(text, "=")
		if !ok {
			return nil, fmt.Errorf("daemons line %d: %q is not key=value", line, text)
		}
		key, value = strings.TrimSpace(key), unquote(strings.TrimSpace(value))
		switch {
		case key == "frr_profile":
			profile = value
		case strings.HasSuffix(key, "_options"):
			name := strings.TrimSuffix(key, "_options")
			opts := strings.Fields(value)
			for _, o := range opts {
				if flag := pathFlag(o); flag != "" {
					return nil, fmt.Errorf("daemons line %d: %s may not set %s: the instance sets it to keep every path in its run dir", line, key, flag)
				}
			}
			options[name] = opts
		case value == "yes" || value == "no":
			if !isDaemonName(key) {
				continue // vtysh_enable and the like
			}
			if value == "yes" && !slices.Contains(supportedDaemons, key) {
				return nil, fmt.Errorf("daemons line %d: %s=yes, but only %s can run in a lab FRR instance", line, key, strings.Join(supportedDaemons, ", "))
			}
			if key != "zebra" && key != "staticd" {
				enabled[key] = value == "yes"
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading daemons: %w", err)
	}
	var out []daemonSpec
	for _, name := range supportedDaemons {
		if !enabled[name] {
			continue
		}
		opts := slices.Clone(options[name])
		if profile != "" {
			opts = append(opts, "-F", profile)
		}
		out = append(out, daemonSpec{Name: name, Options: opts})
	}
	return out, nil
}

// isDaemonName reports whether key names an FRR daemon (the keys of the
// daemons file that take yes or no).
func isDaemonName(key string) bool {
	return strings.HasSuffix(key, "d") || key == "zebra"
}

// pathFlag returns the flag an option token sets if it is one of pathFlags.
func pathFlag(tok string) string {
	for _, f := range pathFlags {
		switch {
		case tok == f,
			strings.HasPrefix(f, "--") && strings.HasPrefix(tok, f+"="),
			!strings.HasPrefix(f, "--") && strings.HasPrefix(tok, f):
			return f
		}
	}
	return ""
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}
