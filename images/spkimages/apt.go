package spkimages

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// aptSource is one Debian archive entry of the host's apt configuration.
type aptSource struct {
	URI        string
	Suites     []string
	Components []string
	SignedBy   string
}

// debianKeyring is the archive keyring every Debian system (and the
// debootstrapped base) has; entries signed by anything else are third-party
// repositories the images cannot verify, so they are left out.
const debianKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// hostAptSources reads the host's Debian apt sources (deb822 *.sources and
// one-line sources.list / *.list) under root ("/" normally). The mirror is
// never written into the repository: it is whatever this machine uses.
func hostAptSources(root string) ([]aptSource, error) {
	var out []aptSource
	dir := filepath.Join(root, "etc/apt/sources.list.d")
	files := []string{filepath.Join(root, "etc/apt/sources.list")}
	if entries, err := os.ReadDir(dir); err == nil {
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		for _, n := range names {
			if strings.HasSuffix(n, ".list") || strings.HasSuffix(n, ".sources") {
				files = append(files, filepath.Join(dir, n))
			}
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("reading apt sources: %w", err)
		}
		if strings.HasSuffix(f, ".sources") {
			out = append(out, parseDeb822(string(b))...)
		} else {
			out = append(out, parseOneLine(string(b))...)
		}
	}
	kept := out[:0]
	for _, s := range out {
		if s.SignedBy == "" || s.SignedBy == debianKeyring {
			kept = append(kept, s)
		}
	}
	return kept, nil
}

func parseDeb822(text string) []aptSource {
	var out []aptSource
	for _, para := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		fields := map[string]string{}
		for _, line := range strings.Split(para, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") || !strings.Contains(line, ":") {
				continue
			}
			k, v, _ := strings.Cut(line, ":")
			fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
		if !contains(strings.Fields(fields["types"]), "deb") || strings.EqualFold(fields["enabled"], "no") {
			continue
		}
		for _, uri := range strings.Fields(fields["uris"]) {
			out = append(out, aptSource{URI: uri, Suites: strings.Fields(fields["suites"]),
				Components: strings.Fields(fields["components"]), SignedBy: fields["signed-by"]})
		}
	}
	return out
}

func parseOneLine(text string) []aptSource {
	var out []aptSource
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		var signedBy string
		f = f[1:]
		if strings.HasPrefix(f[0], "[") {
			// Options: [arch=amd64 signed-by=/path] possibly over several fields.
			for len(f) > 0 {
				opt := strings.Trim(f[0], "[]")
				if k, v, ok := strings.Cut(opt, "="); ok && k == "signed-by" {
					signedBy = v
				}
				end := strings.HasSuffix(f[0], "]")
				f = f[1:]
				if end {
					break
				}
			}
		}
		if len(f) < 2 {
			continue
		}
		out = append(out, aptSource{URI: f[0], Suites: []string{f[1]}, Components: f[2:], SignedBy: signedBy})
	}
	return out
}

// mirrorFor returns the URI of the first source serving suite itself (not
// suite-updates or suite-security).
func mirrorFor(sources []aptSource, suite string) (string, error) {
	for _, s := range sources {
		if contains(s.Suites, suite) {
			return s.URI, nil
		}
	}
	return "", fmt.Errorf("no Debian %s mirror in this machine's apt sources (/etc/apt/sources.list, /etc/apt/sources.list.d)", suite)
}

// deb822 renders sources for the image's /etc/apt/sources.list.d.
func deb822(sources []aptSource) string {
	var b strings.Builder
	for i, s := range sources {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "Types: deb\nURIs: %s\nSuites: %s\nComponents: %s\nSigned-By: %s\n",
			s.URI, strings.Join(s.Suites, " "), strings.Join(orMain(s.Components), " "), debianKeyring)
	}
	return b.String()
}

// hostAcquireOptions returns the host's one-line Acquire:: settings (e.g. a
// proxy, or Check-Valid-Until false for a snapshot mirror), which the
// image's apt needs to reach the same mirror the same way.
func hostAcquireOptions(root string) (string, error) {
	dir := filepath.Join(root, "etc/apt/apt.conf.d")
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return "", nil
		}
		return "", fmt.Errorf("reading apt settings: %w", err)
	}
	var lines []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || e.IsDir() {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "Acquire::") && strings.HasSuffix(l, ";") {
				lines = append(lines, l)
			}
		}
	}
	if len(lines) == 0 {
		return "", nil
	}
	return strings.Join(lines, "\n") + "\n", nil
}

func orMain(c []string) []string {
	if len(c) == 0 {
		return []string{"main"}
	}
	return c
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
