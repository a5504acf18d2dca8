package render

import (
	"fmt"
	"strings"
	"text/template"
)

// NginxSite is the lab's one nginx site, as the client container and the
// netns lab's client and pods run it: /txt answers the client address
// nginx sees (how SNAT is observed), / answers Body.
type NginxSite struct {
	// Dir holds the pid file, the logs and the temp paths (the netns lab,
	// several nginx on one host); "" is the container form: user
	// www-data, /run/nginx.pid, logs on stdout and stderr.
	Dir string
	// Body is the answer of "/" (nginx variables such as $hostname
	// allowed; newlines are escaped here).
	Body string
	// PodHeader is the X-Pod response header's value ("" for none).
	PodHeader string
}

var nginxConf = template.Must(template.New("nginx.conf").Parse(`# Written by spklab: the lab's nginx site.
daemon off;
{{- if .Dir}}
master_process on;
{{- else}}
user www-data;
{{- end}}
worker_processes 1;
{{- if .Dir}}
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log notice;
{{- else}}
pid /run/nginx.pid;
error_log /dev/stderr notice;
{{- end}}

events {
    worker_connections 256;
}

http {
{{- if .Dir}}
    access_log {{.Dir}}/access.log;
    client_body_temp_path {{.Dir}}/tmp/client_body;
    proxy_temp_path {{.Dir}}/tmp/proxy;
    fastcgi_temp_path {{.Dir}}/tmp/fastcgi;
    uwsgi_temp_path {{.Dir}}/tmp/uwsgi;
    scgi_temp_path {{.Dir}}/tmp/scgi;
{{- else}}
    access_log /dev/stdout;
{{- end}}
    default_type text/plain;

    server {
        listen 80;
        listen [::]:80;
        # The client address as this server sees it (how SNAT is observed).
        location = /txt {
            return 200 "$remote_addr\n";
        }
        location / {
{{- if .PodHeader}}
            add_header X-Pod {{.PodHeader}} always;
{{- end}}
            return 200 "{{.Body}}";
        }
    }
}
`))

// NginxConf renders the site's nginx.conf.
func NginxConf(s NginxSite) ([]byte, error) {
	s.Body = strings.ReplaceAll(s.Body, "\n", `\n`)
	var b strings.Builder
	if err := nginxConf.Execute(&b, s); err != nil {
		return nil, fmt.Errorf("rendering nginx.conf: %w", err)
	}
	return []byte(b.String()), nil
}
