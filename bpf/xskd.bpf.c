// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// xskd steering program. Redirects to the AF_XDP socket of the receiving
// queue exactly the frames xskd answers for:
//   * ARP (Ethernet/IPv4) whose sender or target protocol address is ours,
//   * IPv4 whose destination address is ours.
// Everything else goes on to the kernel (XDP_PASS), so ssh and friends keep
// working on the same NIC.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_QUEUES 64

// Set by the loader before the program is loaded (network byte order).
const volatile __u32 our_ipv4 = 0;

// Counter slots; the loader reads them by index (keep in sync with
// src/datapath/xdp.rs).
enum counter {
	CNT_REDIRECTED = 0,
	CNT_PASSED = 1,
	CNT_MALFORMED = 2,
	CNT_NO_SOCKET = 3,
	CNT_MAX = 4,
};

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &slot);
	if (v)
		*v += 1;
}

// ARP for Ethernet + IPv4 as laid out on the wire (RFC 826).
struct arp_eth_ipv4 {
	__be16 htype;
	__be16 ptype;
	__u8 hlen;
	__u8 plen;
	__be16 oper;
	__u8 sha[6];
	__u8 spa[4];
	__u8 tha[6];
	__u8 tpa[4];
} __attribute__((packed));

static __always_inline int is_ours(const struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return -1;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > data_end)
			return -1;
		return ip->daddr == our_ipv4;
	}
	if (eth->h_proto == bpf_htons(ETH_P_ARP)) {
		struct arp_eth_ipv4 *arp = (void *)(eth + 1);
		__u32 spa, tpa;
		if ((void *)(arp + 1) > data_end)
			return -1;
		if (arp->htype != bpf_htons(1) || arp->ptype != bpf_htons(ETH_P_IP) ||
		    arp->hlen != 6 || arp->plen != 4)
			return 0;
		__builtin_memcpy(&spa, arp->spa, 4);
		__builtin_memcpy(&tpa, arp->tpa, 4);
		return spa == our_ipv4 || tpa == our_ipv4;
	}
	return 0;
}

SEC("xdp")
int xskd_steer(struct xdp_md *ctx)
{
	__u32 queue = ctx->rx_queue_index;
	int ours = is_ours(ctx);

	if (ours < 0) {
		count(CNT_MALFORMED);
		return XDP_PASS;
	}
	if (!ours) {
		count(CNT_PASSED);
		return XDP_PASS;
	}
	// A queue without a bound socket: count it, and let the kernel see
	// the frame rather than dropping it silently.
	if (!bpf_map_lookup_elem(&xsks_map, &queue)) {
		count(CNT_NO_SOCKET);
		return XDP_PASS;
	}
	count(CNT_REDIRECTED);
	return bpf_redirect_map(&xsks_map, queue, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
