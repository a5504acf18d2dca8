package spkimages

import (
	"github.com/spklab/spklab/host/docker"
	"github.com/spklab/spklab/topology/render"
)

// aptInstall installs Debian packages and leaves no apt lists behind.
func aptInstall(pkgs string) string {
	return "RUN apt-get update \\\n" +
		" && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends " + pkgs + " \\\n" +
		" && rm -rf /var/lib/apt/lists/*\n"
}

// --- router -----------------------------------------------------------------

// frrEntrypoint runs the topology's network.sh (tagged interfaces, sysctls)
// when /etc/frr has one, then FRR's own init script, and stops FRR cleanly
// when the container is stopped.
const frrEntrypoint = `#!/bin/sh
# spklab router: FRR from Debian, configured by the bind-mounted /etc/frr.
set -eu
if [ -f /etc/frr/network.sh ]; then
	sh /etc/frr/network.sh
fi
/usr/lib/frr/frrinit.sh start
trap '/usr/lib/frr/frrinit.sh stop; exit 0' TERM INT
# Sleep in the background so the trap runs as soon as a signal comes.
while :; do
	sleep 3600 &
	wait $! || true
done
`

var frrRecipe = recipe{
	dockerfile: aptInstall("frr frr-pythontools iproute2 procps iputils-ping tcpdump") +
		"COPY spklab-frr /usr/local/bin/spklab-frr\n" +
		"ENTRYPOINT [\"/usr/local/bin/spklab-frr\"]\n",
	files: []docker.File{{Name: "spklab-frr", Mode: 0o755, Data: []byte(frrEntrypoint)}},
}

// --- client and app ---------------------------------------------------------

// clientEntrypoint puts the node name (SPKLAB_NODE, from the downward API
// in a pod) into nginx's answer, routes through the lab router instead of
// docker's gateway when compose says where it is (SPKLAB_GATEWAY_V4/V6;
// needs NET_ADMIN), then runs the command (nginx by default).
const clientEntrypoint = `#!/bin/sh
set -eu
sed -i "s/@SPKLAB_NODE@/${SPKLAB_NODE:-none}/" /etc/nginx/nginx.conf
if [ -n "${SPKLAB_GATEWAY_V4:-}" ]; then
	ip -4 route replace default via "$SPKLAB_GATEWAY_V4"
fi
if [ -n "${SPKLAB_GATEWAY_V6:-}" ]; then
	ip -6 route replace default via "$SPKLAB_GATEWAY_V6"
fi
exec "$@"
`

// clientRecipe is the client and app image: the lab's nginx site
// (render.NginxConf) in container form, where / answers "pod <host name>
// node <node>" as the netns lab's pods do (in a pod the host name is the
// pod's name; the entrypoint fills in SPKLAB_NODE).
func clientRecipe() (recipe, error) {
	conf, err := render.NginxConf(render.NginxSite{Body: "pod $hostname node @SPKLAB_NODE@\n", PodHeader: "$hostname"})
	if err != nil {
		return recipe{}, err
	}
	return recipe{
		dockerfile: aptInstall("nginx-light curl iproute2 iputils-ping ca-certificates") +
			"COPY nginx.conf /etc/nginx/nginx.conf\n" +
			"COPY spklab-client /usr/local/bin/spklab-client\n" +
			"RUN nginx -t\n" +
			"EXPOSE 80\n" +
			"ENTRYPOINT [\"/usr/local/bin/spklab-client\"]\n" +
			"CMD [\"nginx\"]\n",
		files: []docker.File{
			{Name: "nginx.conf", Data: conf},
			{Name: "spklab-client", Mode: 0o755, Data: []byte(clientEntrypoint)},
		},
	}, nil
}

// --- syslog -----------------------------------------------------------------

// rsyslogConf receives on UDP and TCP 514 and writes every message, with
// the sender's address, to /var/log/remote/messages and to stdout (docker
// logs).
const rsyslogConf = `# spklab syslog server.
global(workDirectory="/var/spool/rsyslog")
module(load="imudp")
input(type="imudp" port="514")
module(load="imtcp")
input(type="imtcp" port="514")
template(name="lab" type="string"
         string="%timegenerated:::date-rfc3339% %fromhost-ip% %hostname% %syslogtag%%msg:::sp-if-no-1st-sp%%msg:::drop-last-lf%\n")
*.* action(type="omfile" file="/var/log/remote/messages" template="lab")
*.* action(type="omfile" file="/dev/stdout" template="lab")
`

var syslogRecipe = recipe{
	dockerfile: aptInstall("rsyslog") +
		"RUN mkdir -p /var/log/remote /var/spool/rsyslog && rm -f /etc/rsyslog.d/*.conf\n" +
		"COPY rsyslog.conf /etc/rsyslog.conf\n" +
		"RUN rsyslogd -N1 -f /etc/rsyslog.conf\n" +
		"EXPOSE 514/udp 514/tcp\n" +
		"CMD [\"rsyslogd\", \"-n\", \"-f\", \"/etc/rsyslog.conf\", \"-i\", \"/run/rsyslogd.pid\"]\n",
	files: []docker.File{{Name: "rsyslog.conf", Data: []byte(rsyslogConf)}},
}

// --- our commands -----------------------------------------------------------

// spk-tmm hides its wire interfaces from the kernel with nft and is looked
// at with ip, so it runs on Debian with nftables and iproute2.
var tmmRecipe = goRecipe{fromDebian: true, recipe: recipe{
	dockerfile: aptInstall("nftables iproute2") +
		"COPY spk-tmm /usr/local/bin/spk-tmm\n" +
		"ENTRYPOINT [\"/usr/local/bin/spk-tmm\"]\n",
}}

// spk-controller is a static binary that only talks to the API server and
// the TMMs: no OS, a non-root user (the chart's runAsNonRoot).
var controllerRecipe = goRecipe{recipe: recipe{
	dockerfile: "COPY spk-controller /spk-controller\n" +
		"USER 65532:65532\n" +
		"ENTRYPOINT [\"/spk-controller\"]\n",
}}

// spk-node makes links, addresses, routes and rules with netlink and writes
// sysctls under /proc: it runs no program, so it needs no OS either.
var nodeRecipe = goRecipe{recipe: recipe{
	dockerfile: "COPY spk-node /spk-node\n" +
		"ENTRYPOINT [\"/spk-node\"]\n",
}}
