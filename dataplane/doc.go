// Package dataplane is the emulated TMM data plane: packet I/O ports
// (AF_PACKET, DPDK behind the dpdk build tag), parsing, ARP/NDP, VLANs, FIB,
// connection tracking, NAT, virtual servers, SNAT pools and stats.
//
// This build has none of it yet.
package dataplane
