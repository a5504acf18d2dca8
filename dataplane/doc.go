// Package dataplane is the emulated TMM data plane behind spk-tmm: packet
// I/O ports (AF_PACKET, TAP for the exception path, in-memory for tests),
// parsing, ARP/NDP, VLANs, FIB, connection tracking, NAT, virtual servers,
// egress SNAT over tenant VXLAN, a BGP speaker and the gRPC config/stats
// API. It imports nothing of the CRs: spk-tmm passes the CR loader in. A
// DPDK port behind a dpdk build tag is planned, not built (see
// port.Port). See docs/architecture.md, "Packet walks".
package dataplane
