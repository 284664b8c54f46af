// SPDX-License-Identifier: (MIT OR GPL-2.0)
/* tcpviz capture: TCP packet headers from tc (tcx) hooks and the kernel's own
 * TCP state from BTF tracepoints, each into its own BPF ring buffer. The user
 * side merges both streams by timestamp into pcapng. */

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "kernel_types.h"

char __license[] SEC("license") = "Dual MIT/GPL";

#define MAX_SNAPLEN 1024
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_IPIP 4
#define IPPROTO_UDP 17
#define IPPROTO_IPV6 41
#define IPPROTO_GRE 47
#define TC_NEXT (-1) /* TCX_NEXT and TC_ACT_UNSPEC: let the packet go on */

#define DIR_INBOUND 1
#define DIR_OUTBOUND 2

/* Record kinds; the same numbers as kblock.Kind. */
#define KIND_PROBE 1
#define KIND_RETRANSMIT 2
#define KIND_STATE 3
#define KIND_RESET 4

#define TCP_SYN_SENT 2
#define TCP_FIN_WAIT1 4
#define TCP_CLOSE 7
#define TCP_LAST_ACK 9

/* Counters in the per-CPU "counters" array; the user side sums the CPUs. */
enum counter {
	CNT_PKT_LOST = 0,       /* packet ring full */
	CNT_KREC_LOST,          /* kernel-record ring full */
	CNT_PKT_SEEN,           /* TCP packets that passed the filters */
	CNT_PKT_LOAD_ERR,       /* bpf_skb_load_bytes failed */
	CNT_RETRANS_FAILED,     /* retransmit attempts the kernel did not send */
	CNT_PROBE_SKIPPED,      /* tcp_probe hits the sample policy skipped */
	CNT_MAX,
};

/* Load-time configuration, rewritten by the loader before the programs are
 * loaded, so the checks below are constants for the verifier. */
volatile const __u32 cfg_snaplen = 128;
volatile const __u32 cfg_l2len = 14;        /* 14 for Ethernet-style devices, 0 for raw IP */
volatile const __u8 cfg_filter_ports = 0;   /* keep packets whose either port is in "ports" */
volatile const __u8 cfg_filter_hosts = 0;   /* keep packets whose either address is in "hosts" */
volatile const __u8 cfg_filter_owner = 0;   /* keep sockets owned by cfg_pid / cfg_comm */
volatile const __u32 cfg_pid = 0;           /* thread group id; 0: match by cfg_comm */
volatile const char cfg_comm[16] = {};
volatile const __u32 cfg_netns = 0;         /* network namespace inode; 0: every namespace */
volatile const __u64 cfg_sample_ns = 100000000;
volatile const __u32 cfg_jiffy_us = 0;      /* USEC_PER_SEC / HZ; 0: unknown, no chronographs */

/* One captured packet: this header, then caplen bytes. */
struct pkt_hdr {
	__u64 ts_boot_ns;
	__u64 cookie;
	__u32 ifindex;
	__u32 len;
	__u32 caplen;
	__u32 gso_size;  /* a GSO packet: segments of gso_size payload bytes */
	__u16 gso_segs;
	__u8 dir;
	__u8 pad[5];
};

/* One kernel record. Addresses are IPv6 or IPv4 in the first 4 bytes,
 * ports in host order; the tuple is the socket's view (s = local). */
struct krec {
	__u64 ts_boot_ns;
	__u64 cookie;
	__u8 kind;
	__u8 family;
	__u8 old_state;
	__u8 new_state;
	__u8 ca_state;
	__u8 tcp_flags;
	__u8 reset_dir;
	__u8 pad;
	__u16 sport;
	__u16 dport;
	__u32 pid;
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 snd_cwnd;
	__u32 ssthresh;
	__u32 srtt_us;
	__u32 rttvar_us;
	__u32 snd_wnd;
	__u32 rcv_wnd;
	__u32 packets_out;
	__u32 retrans_out;
	__u32 lost_out;
	__u32 sacked_out;
	__u32 delivered;
	__u32 total_retrans;
	__u32 snd_una;
	__u32 snd_nxt;
	__u32 rcv_nxt;
	__u32 mss;
	__u32 seq;
	__u32 end_seq;
	__u32 segs;
	__u32 pad2;
	__u64 pacing_rate;
	__u64 bytes_acked;
	__u64 bytes_received;
	__u64 span_ns;
	char comm[16];
	/* What limited the sender (probe and closing state records). Each
	 * group is valid only when its LIM_* bit is set in has: a field the
	 * running kernel lacks is absent, not 0. */
	__u64 busy_us;           /* chronographs as tcp_get_info_chrono_stats() */
	__u64 rwnd_limited_us;
	__u64 sndbuf_limited_us;
	__u32 rate_delivered;    /* last delivery-rate sample: segments */
	__u32 rate_interval_us;  /* over this interval */
	__u32 min_rtt_us;
	__u32 unsent;            /* write_seq - snd_nxt: written, not yet sent */
	__u32 wmem_queued;
	__u32 sndbuf;
	__u16 has;
	__u8 snd_wscale;
	__u8 rcv_wscale;
	__u8 cwnd_limited;
	__u8 app_limited;
	__u8 pad3[2];
	/* Why a segment was retransmitted (retransmit records, timer_read
	 * set): the timer being handled (icsk_pending; ICSK_TIME_LOSS_PROBE
	 * while a tail-loss probe is sent, cleared before the RTO handler
	 * retransmits) and the RTO backoffs so far. ca_state is above. */
	__u8 timer_pending;
	__u8 retransmits;
	__u8 timer_read;
	__u8 pad4[5];
};

#define LIM_CHRONO (1 << 0)
#define LIM_CWND_LIMITED (1 << 1)
#define LIM_APP_LIMITED (1 << 2)
#define LIM_RATE (1 << 3)
#define LIM_MIN_RTT (1 << 4)
#define LIM_UNSENT (1 << 5)
#define LIM_WMEM (1 << 6)
#define LIM_WSCALE (1 << 7)

/* Referenced so that bpf2go emits Go types for both record layouts. */
const struct pkt_hdr *unused_pkt_hdr __attribute__((unused));
const struct krec *unused_krec __attribute__((unused));

/* Address filter key: IPv4 as an IPv4-mapped IPv6 address. */
struct addr_key {
	__u8 a[16];
};

/* A connection as (local, remote) in IPv4-mapped form, for --pid/--comm. */
struct tuple_key {
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 lport;
	__u16 rport;
};

struct sample_state {
	__u64 ts;
	__u32 cwnd;
	__u32 ssthresh;
	__u32 srtt_us;
	__u8 ca_state;
	__u8 unwanted; /* filtered out by --port/--host: skip at once */
	__u8 chrono;   /* chrono_type of the last record */
};

struct owner {
	__u32 pid;
	char comm[16];
	__u8 match; /* the owner is the --pid/--comm process */
	__u8 pad[3];
};

struct pkt_buf {
	struct pkt_hdr h;
	__u8 data[MAX_SNAPLEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} pkts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} krecs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pkt_buf);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);
	__type(value, __u8);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct addr_key);
	__type(value, __u8);
} hosts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct sample_state);
} samples SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} births SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct owner);
} owners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tuple_key);
	__type(value, __u64);
} selected SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += 1; /* per-CPU slot: no atomics needed */
}

static __always_inline void map4(__u8 dst[16], __be32 a)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &a, 4);
}

static __always_inline bool host_match(const __u8 s[16], const __u8 d[16])
{
	return bpf_map_lookup_elem(&hosts, s) || bpf_map_lookup_elem(&hosts, d);
}

static __always_inline bool port_match(__u16 sport, __u16 dport)
{
	return bpf_map_lookup_elem(&ports, &sport) || bpf_map_lookup_elem(&ports, &dport);
}

/* A socket owned by the --pid/--comm process, by its cookie. */
static __always_inline bool cookie_selected(__u64 cookie)
{
	struct owner *o = bpf_map_lookup_elem(&owners, &cookie);
	return o && o->match;
}

/* --pid/--comm for packets: either end of the packet is a selected socket. */
static __always_inline bool tuple_selected(const __u8 s[16], const __u8 d[16], __u16 sport, __u16 dport)
{
	struct tuple_key k = {};
	__builtin_memcpy(k.laddr, s, 16);
	__builtin_memcpy(k.raddr, d, 16);
	k.lport = sport;
	k.rport = dport;
	if (bpf_map_lookup_elem(&selected, &k))
		return true;
	__builtin_memcpy(k.laddr, d, 16);
	__builtin_memcpy(k.raddr, s, 16);
	k.lport = dport;
	k.rport = sport;
	return bpf_map_lookup_elem(&selected, &k) != NULL;
}

/* ---- packets ---------------------------------------------------------- */

/* The UDP ports of the overlays tcpviz decodes: VXLAN, VXLAN-GPE, Geneve,
 * GTP-U, Teredo, AYIYA (the decoder's defaults). */
static __always_inline bool tunnel_port(__u16 p)
{
	return p == 4789 || p == 4790 || p == 6081 || p == 2152 || p == 3544 || p == 5072;
}

/* A packet whose TCP, if any, is inside a tunnel: GRE, IP in IP, or UDP to
 * an overlay port. The program does not parse the inner headers, so such a
 * packet is written as it is, when no filter asks for inner fields. */
static __always_inline bool tunnelled(struct __sk_buff *skb, __u8 l4proto, __u32 l4)
{
	if (cfg_filter_ports || cfg_filter_hosts || cfg_filter_owner)
		return false;
	if (l4proto == IPPROTO_GRE || l4proto == IPPROTO_IPIP || l4proto == IPPROTO_IPV6)
		return true;
	if (l4proto != IPPROTO_UDP)
		return false;
	__be16 pp[2];
	if (bpf_skb_load_bytes(skb, l4, pp, sizeof(pp)) < 0)
		return false;
	return tunnel_port(bpf_ntohs(pp[0])) || tunnel_port(bpf_ntohs(pp[1]));
}

static __always_inline int capture_skb(struct __sk_buff *skb, __u8 dir)
{
	__u32 l3 = cfg_l2len;
	__u16 proto;
	__u8 s[16], d[16];
	__u32 l4;

	if (l3) {
		if (bpf_skb_load_bytes(skb, l3 - 2, &proto, 2) < 0)
			return TC_NEXT;
	} else {
		proto = skb->protocol;
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		__u8 iph[20];
		if (bpf_skb_load_bytes(skb, l3, iph, sizeof(iph)) < 0)
			return TC_NEXT;
		if ((iph[0] >> 4) != 4)
			return TC_NEXT;
		/* Later fragments carry no TCP header. */
		if (((iph[6] & 0x1f) | iph[7]) != 0)
			return TC_NEXT;
		map4(s, *(__be32 *)&iph[12]);
		map4(d, *(__be32 *)&iph[16]);
		l4 = l3 + (iph[0] & 0x0f) * 4;
		if (iph[9] != IPPROTO_TCP) {
			if (tunnelled(skb, iph[9], l4))
				goto write;
			return TC_NEXT;
		}
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		__u8 ip6h[40];
		if (bpf_skb_load_bytes(skb, l3, ip6h, sizeof(ip6h)) < 0)
			return TC_NEXT;
		__builtin_memcpy(s, &ip6h[8], 16);
		__builtin_memcpy(d, &ip6h[24], 16);
		l4 = l3 + 40;
		if (ip6h[6] != IPPROTO_TCP) { /* extension headers are not followed */
			if (tunnelled(skb, ip6h[6], l4))
				goto write;
			return TC_NEXT;
		}
	} else {
		return TC_NEXT;
	}

	__be16 pp[2];
	if (bpf_skb_load_bytes(skb, l4, pp, sizeof(pp)) < 0)
		return TC_NEXT;
	__u16 sport = bpf_ntohs(pp[0]), dport = bpf_ntohs(pp[1]);

	if (cfg_filter_ports && !port_match(sport, dport))
		return TC_NEXT;
	if (cfg_filter_hosts && !host_match(s, d))
		return TC_NEXT;
	if (cfg_filter_owner && !tuple_selected(s, d, sport, dport)) {
		/* A client socket is owned from SYN_SENT on, but gets its local
		 * port only after that state change: its first packet out (the
		 * SYN) still carries the socket, which selects the tuple. */
		__u64 c = bpf_get_socket_cookie(skb);
		if (!c || !cookie_selected(c))
			return TC_NEXT;
		struct tuple_key k = {};
		if (dir == DIR_OUTBOUND) {
			__builtin_memcpy(k.laddr, s, 16);
			__builtin_memcpy(k.raddr, d, 16);
			k.lport = sport;
			k.rport = dport;
		} else {
			__builtin_memcpy(k.laddr, d, 16);
			__builtin_memcpy(k.raddr, s, 16);
			k.lport = dport;
			k.rport = sport;
		}
		bpf_map_update_elem(&selected, &k, &c, BPF_ANY);
	}

write:
	count(CNT_PKT_SEEN);

	__u32 zero = 0;
	struct pkt_buf *b = bpf_map_lookup_elem(&scratch, &zero);
	if (!b)
		return TC_NEXT;

	__u32 caplen = skb->len;
	if (caplen > cfg_snaplen)
		caplen = cfg_snaplen;
	if (caplen < 1)
		return TC_NEXT;
	/* The same value in [1, MAX_SNAPLEN] written so the verifier sees the
	 * bounds on the register it passes to the helpers. */
	caplen = ((caplen - 1) & (MAX_SNAPLEN - 1)) + 1;

	b->h.ts_boot_ns = bpf_ktime_get_boot_ns();
	b->h.cookie = bpf_get_socket_cookie(skb);
	b->h.ifindex = skb->ifindex;
	b->h.len = skb->len;
	b->h.caplen = caplen;
	b->h.dir = dir;
	b->h.gso_segs = skb->gso_segs;
	b->h.gso_size = skb->gso_size;

	if (bpf_skb_load_bytes(skb, 0, b->data, caplen) < 0) {
		count(CNT_PKT_LOAD_ERR);
		return TC_NEXT;
	}
	/* Adaptive wakeups: the kernel wakes the reader only when it had
	 * caught up, i.e. once per poll while packets flow, once when they
	 * start again after a quiet spell. */
	if (bpf_ringbuf_output(&pkts, b, sizeof(b->h) + caplen, 0) < 0)
		count(CNT_PKT_LOST);
	return TC_NEXT;
}

SEC("tc")
int capture_ingress(struct __sk_buff *skb)
{
	return capture_skb(skb, DIR_INBOUND);
}

SEC("tc")
int capture_egress(struct __sk_buff *skb)
{
	return capture_skb(skb, DIR_OUTBOUND);
}

/* ---- kernel TCP state ------------------------------------------------- */

static __always_inline void sk_tuple(const struct sock *sk, __u8 *family, __u8 s[16], __u8 d[16],
				     __u16 *sport, __u16 *dport)
{
	__u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	*sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	*dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (fam == AF_INET6) {
		*family = 6;
		BPF_CORE_READ_INTO((struct in6_addr *)s, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)d, sk, __sk_common.skc_v6_daddr);
	} else {
		*family = 4;
		map4(s, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
		map4(d, BPF_CORE_READ(sk, __sk_common.skc_daddr));
	}
}

static __always_inline bool netns_ok(const struct sock *sk)
{
	if (!cfg_netns)
		return true;
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) == cfg_netns;
}

static __always_inline bool comm_equal(const char *a)
{
	for (int i = 0; i < 16; i++) {
		if (a[i] != cfg_comm[i])
			return false;
		if (a[i] == 0)
			return true;
	}
	return true;
}

/* Remembers the current task as the socket's owner. Called only where the
 * hook runs in the owner's process context (connect, close, send, recv);
 * in softirq "current" is whoever was interrupted. */
static __always_inline void learn_owner(const struct sock *sk, __u64 cookie)
{
	struct owner o = {};
	o.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(o.comm, sizeof(o.comm));
	if (cfg_filter_owner)
		o.match = cfg_pid ? o.pid == cfg_pid : comm_equal(o.comm);
	bpf_map_update_elem(&owners, &cookie, &o, BPF_ANY);

	if (!o.match)
		return;
	struct tuple_key k = {};
	__u8 family;
	sk_tuple(sk, &family, k.laddr, k.raddr, &k.lport, &k.rport);
	if (k.lport) /* at SYN_SENT the port is not assigned yet */
		bpf_map_update_elem(&selected, &k, &cookie, BPF_ANY);
}

/* A socket's 4-tuple, from its own point of view. */
struct sk_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 family;
};

static __always_inline bool key_wanted(const struct sk_key *k)
{
	if (cfg_filter_ports && !port_match(k->sport, k->dport))
		return false;
	if (cfg_filter_hosts && !host_match(k->saddr, k->daddr))
		return false;
	if (cfg_filter_owner && !tuple_selected(k->saddr, k->daddr, k->sport, k->dport))
		return false;
	return true;
}

/* Filters a socket for kernel records (--port, --host, owner); checked
 * before a record is reserved, so unwanted sockets cost no ring traffic. */
static __always_inline bool tuple_wanted(const struct sock *sk, struct sk_key *k)
{
	if (key_wanted(k))
		return true;
	if (!cfg_filter_owner)
		return false;
	if (cfg_filter_ports && !port_match(k->sport, k->dport))
		return false;
	if (cfg_filter_hosts && !host_match(k->saddr, k->daddr))
		return false;
	/* An owned socket whose tuple was not selected when its owner was
	 * learned (no local port yet): select it now, so its packets match
	 * on interfaces where they no longer carry the socket. */
	__u64 cookie = bpf_get_socket_cookie((struct sock *)sk);
	if (!cookie_selected(cookie))
		return false;
	if (k->sport) {
		struct tuple_key t = {};
		__builtin_memcpy(t.laddr, k->saddr, 16);
		__builtin_memcpy(t.raddr, k->daddr, 16);
		t.lport = k->sport;
		t.rport = k->dport;
		bpf_map_update_elem(&selected, &t, &cookie, BPF_ANY);
	}
	return true;
}

static __always_inline bool sk_wanted(const struct sock *sk, struct sk_key *k)
{
	sk_tuple(sk, &k->family, k->saddr, k->daddr, &k->sport, &k->dport);
	return tuple_wanted(sk, k);
}

static __always_inline struct krec *krec_new(__u8 kind, const struct sk_key *k)
{
	struct krec *r = bpf_ringbuf_reserve(&krecs, sizeof(*r), 0);
	if (!r) {
		count(CNT_KREC_LOST);
		return NULL;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->ts_boot_ns = bpf_ktime_get_boot_ns();
	r->kind = kind;
	r->family = k->family;
	__builtin_memcpy(r->saddr, k->saddr, 16);
	__builtin_memcpy(r->daddr, k->daddr, 16);
	r->sport = k->sport;
	r->dport = k->dport;
	return r;
}

static __always_inline void fill_owner(struct krec *r)
{
	struct owner *o = bpf_map_lookup_elem(&owners, &r->cookie);
	if (o) {
		r->pid = o->pid;
		__builtin_memcpy(r->comm, o->comm, sizeof(r->comm));
	}
}

static __always_inline void fill_tcp(struct krec *r, const struct sock *sk)
{
	const struct tcp_sock *tp = (const void *)sk;
	r->snd_cwnd = BPF_CORE_READ(tp, snd_cwnd);
	r->ssthresh = BPF_CORE_READ(tp, snd_ssthresh);
	r->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	r->rttvar_us = BPF_CORE_READ(tp, rttvar_us) >> 2;
	r->snd_wnd = BPF_CORE_READ(tp, snd_wnd);
	r->rcv_wnd = BPF_CORE_READ(tp, rcv_wnd);
	r->packets_out = BPF_CORE_READ(tp, packets_out);
	r->retrans_out = BPF_CORE_READ(tp, retrans_out);
	r->lost_out = BPF_CORE_READ(tp, lost_out);
	r->sacked_out = BPF_CORE_READ(tp, sacked_out);
	r->delivered = BPF_CORE_READ(tp, delivered);
	r->total_retrans = BPF_CORE_READ(tp, total_retrans);
	r->snd_una = BPF_CORE_READ(tp, snd_una);
	r->snd_nxt = BPF_CORE_READ(tp, snd_nxt);
	r->rcv_nxt = BPF_CORE_READ(tp, rcv_nxt);
	r->mss = BPF_CORE_READ(tp, mss_cache);
	r->ca_state = BPF_CORE_READ_BITFIELD_PROBED((const struct inet_connection_sock *)sk, icsk_ca_state);
	r->pacing_rate = BPF_CORE_READ(sk, sk_pacing_rate);
}

static __always_inline __u8 chrono_type(const struct tcp_sock *tp)
{
	if (!bpf_core_field_exists(tp->chrono_type))
		return 0;
	return BPF_CORE_READ_BITFIELD_PROBED(tp, chrono_type);
}

/* The send-limit fields. The chronograph totals are computed the way
 * tcp_get_info_chrono_stats() does for ss -ti: each slot plus the running
 * interval of the current type, busy being the sum of the three. */
static __always_inline void fill_limits(struct krec *r, const struct sock *sk)
{
	const struct tcp_sock *tp = (const void *)sk;
	__u16 has = 0;

	if (cfg_jiffy_us && bpf_core_field_exists(tp->chrono_stat) && bpf_core_field_exists(tp->chrono_start)) {
		__u32 stat[3] = {};
		bpf_core_read(stat, sizeof(stat), &tp->chrono_stat);
		__u8 type = chrono_type(tp);
		__u32 run = (__u32)bpf_jiffies64() - BPF_CORE_READ(tp, chrono_start);
		__u64 busy = stat[0], rwnd = stat[1], sndbuf = stat[2];
		if (type == 1)
			busy += run;
		else if (type == 2)
			rwnd += run;
		else if (type == 3)
			sndbuf += run;
		r->busy_us = (busy + rwnd + sndbuf) * cfg_jiffy_us;
		r->rwnd_limited_us = rwnd * cfg_jiffy_us;
		r->sndbuf_limited_us = sndbuf * cfg_jiffy_us;
		has |= LIM_CHRONO;
	}
	if (bpf_core_field_exists(tp->is_cwnd_limited)) {
		r->cwnd_limited = BPF_CORE_READ_BITFIELD_PROBED(tp, is_cwnd_limited);
		has |= LIM_CWND_LIMITED;
	}
	if (bpf_core_field_exists(tp->rate_app_limited)) {
		r->app_limited = BPF_CORE_READ_BITFIELD_PROBED(tp, rate_app_limited);
		has |= LIM_APP_LIMITED;
	}
	if (bpf_core_field_exists(tp->rate_delivered) && bpf_core_field_exists(tp->rate_interval_us)) {
		r->rate_delivered = BPF_CORE_READ(tp, rate_delivered);
		r->rate_interval_us = BPF_CORE_READ(tp, rate_interval_us);
		has |= LIM_RATE;
	}
	if (bpf_core_field_exists(tp->rtt_min)) {
		r->min_rtt_us = BPF_CORE_READ(tp, rtt_min.s[0].v);
		has |= LIM_MIN_RTT;
	}
	if (bpf_core_field_exists(tp->write_seq)) {
		__u32 unsent = BPF_CORE_READ(tp, write_seq) - BPF_CORE_READ(tp, snd_nxt);
		r->unsent = (__s32)unsent < 0 ? 0 : unsent;
		has |= LIM_UNSENT;
	}
	if (bpf_core_field_exists(sk->sk_wmem_queued) && bpf_core_field_exists(sk->sk_sndbuf)) {
		int q = BPF_CORE_READ(sk, sk_wmem_queued), b = BPF_CORE_READ(sk, sk_sndbuf);
		r->wmem_queued = q < 0 ? 0 : q;
		r->sndbuf = b < 0 ? 0 : b;
		has |= LIM_WMEM;
	}
	if (bpf_core_field_exists(tp->rx_opt)) {
		const struct tcp_options_received *ro = &tp->rx_opt;
		if (BPF_CORE_READ_BITFIELD_PROBED(ro, wscale_ok)) {
			r->snd_wscale = BPF_CORE_READ_BITFIELD_PROBED(ro, snd_wscale);
			r->rcv_wscale = BPF_CORE_READ_BITFIELD_PROBED(ro, rcv_wscale);
		}
		has |= LIM_WSCALE;
	}
	r->has = has;
}

static __always_inline __u32 absdiff(__u32 a, __u32 b)
{
	return a > b ? a - b : b - a;
}

/* tcp_probe fires for every segment an established socket receives. The
 * sample policy keeps a bulk transfer from producing one record per ACK. */
SEC("tp_btf/tcp_probe")
int BPF_PROG(tcp_probe, struct sock *sk, struct sk_buff *skb)
{
	if (!sk || !netns_ok(sk))
		return 0;

	const struct tcp_sock *tp = (const void *)sk;
	__u64 cookie = bpf_get_socket_cookie(sk);
	__u64 now = bpf_ktime_get_boot_ns();
	__u32 cwnd = BPF_CORE_READ(tp, snd_cwnd);
	__u32 ssthresh = BPF_CORE_READ(tp, snd_ssthresh);
	__u32 srtt = BPF_CORE_READ(tp, srtt_us) >> 3;
	__u8 ca = BPF_CORE_READ_BITFIELD_PROBED((const struct inet_connection_sock *)sk, icsk_ca_state);
	__u8 chrono = chrono_type(tp);

	struct sample_state *st = bpf_map_lookup_elem(&samples, &cookie);
	if (st && st->unwanted)
		return 0;
	if (st) {
		__u64 since = now - st->ts;
		/* Changes of cwnd and srtt are reported at most once per RTT
		 * (within [sample/10, sample]), and so are changes of what limits
		 * the sender (chrono_type); CA state and ssthresh changes always;
		 * and a heartbeat every cfg_sample_ns. */
		__u64 gap = (__u64)st->srtt_us * 1000;
		if (gap < cfg_sample_ns / 10)
			gap = cfg_sample_ns / 10;
		if (gap > cfg_sample_ns)
			gap = cfg_sample_ns;
		bool major = ca != st->ca_state || ssthresh != st->ssthresh;
		bool minor = cwnd != st->cwnd || absdiff(srtt, st->srtt_us) > st->srtt_us / 8 ||
			     chrono != st->chrono;
		if (!major && !(minor && since >= gap) && since < cfg_sample_ns) {
			count(CNT_PROBE_SKIPPED);
			return 0;
		}
	}

	struct sk_key k;
	if (!sk_wanted(sk, &k)) {
		/* Port and host filters do not change; the owner filter does
		 * (owners are learned as they show up), so it is asked again. */
		if (!cfg_filter_owner) {
			struct sample_state skip = {.unwanted = 1};
			bpf_map_update_elem(&samples, &cookie, &skip, BPF_ANY);
		}
		return 0;
	}
	struct krec *r = krec_new(KIND_PROBE, &k);
	if (!r)
		return 0; /* state not updated: the next hit tries again */
	struct sample_state ns = {.ts = now, .cwnd = cwnd, .ssthresh = ssthresh, .srtt_us = srtt, .ca_state = ca,
				   .chrono = chrono};
	bpf_map_update_elem(&samples, &cookie, &ns, BPF_ANY);

	r->cookie = cookie;
	fill_tcp(r, sk);
	fill_limits(r, sk);
	fill_owner(r);
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

static __always_inline int on_retransmit(const struct sock *sk, const struct sk_buff *skb)
{
	if (!sk || !netns_ok(sk))
		return 0;
	struct sk_key k;
	if (!sk_wanted(sk, &k))
		return 0;
	struct krec *r = krec_new(KIND_RETRANSMIT, &k);
	if (!r)
		return 0;
	/* The skb has no TCP header yet: seq, flags and the segment count are
	 * in the control block the kernel keeps in skb->cb. */
	const struct tcp_skb_cb *cb = (const void *)&skb->cb[0];
	r->cookie = bpf_get_socket_cookie((struct sock *)sk);
	r->seq = BPF_CORE_READ(cb, seq);
	r->end_seq = BPF_CORE_READ(cb, end_seq);
	r->segs = BPF_CORE_READ(cb, tcp_gso_segs);
	if (r->segs == 0)
		r->segs = 1;
	r->tcp_flags = BPF_CORE_READ_BITFIELD_PROBED(cb, tcp_flags);
	const struct inet_connection_sock *icsk = (const void *)sk;
	r->timer_pending = BPF_CORE_READ(icsk, icsk_pending);
	r->retransmits = BPF_CORE_READ(icsk, icsk_retransmits);
	r->timer_read = 1;
	fill_tcp(r, sk);
	fill_owner(r);
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

/* Kernels before 6.11 fire tcp_retransmit_skb(sk, skb) only for segments
 * that went out. */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tcp_retransmit, const struct sock *sk, const struct sk_buff *skb)
{
	return on_retransmit(sk, skb);
}

/* Newer kernels add the result: err != 0 means nothing was sent (the skb
 * was still queued below TCP, memory was short...). */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tcp_retransmit_err, const struct sock *sk, const struct sk_buff *skb, int err)
{
	if (err) {
		count(CNT_RETRANS_FAILED);
		return 0;
	}
	return on_retransmit(sk, skb);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(inet_sock_set_state, const struct sock *sk, int oldstate, int newstate)
{
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP || !netns_ok(sk))
		return 0;
	__u64 cookie = bpf_get_socket_cookie((struct sock *)sk);
	__u64 now = bpf_ktime_get_boot_ns();

	/* connect() and close()/shutdown() run in the owner's context. */
	if (newstate == TCP_SYN_SENT || newstate == TCP_FIN_WAIT1 || newstate == TCP_LAST_ACK)
		learn_owner(sk, cookie);

	__u64 *born = bpf_map_lookup_elem(&births, &cookie);
	__u64 birth = born ? *born : 0;
	if (!born)
		bpf_map_update_elem(&births, &cookie, &now, BPF_NOEXIST);

	/* The move to CLOSE releases the local port (skc_num = 0) before
	 * this tracepoint fires; inet_sport keeps it. */
	struct sk_key k;
	sk_tuple(sk, &k.family, k.saddr, k.daddr, &k.sport, &k.dport);
	if (!k.sport)
		k.sport = bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
	if (!tuple_wanted(sk, &k))
		goto out;
	struct krec *r = krec_new(KIND_STATE, &k);
	if (!r)
		goto out;
	r->cookie = cookie;
	r->old_state = oldstate;
	r->new_state = newstate;
	if (birth)
		r->span_ns = now - birth;
	if (newstate == TCP_CLOSE || newstate == TCP_FIN_WAIT1 || newstate == TCP_LAST_ACK) {
		const struct tcp_sock *tp = (const void *)sk;
		r->bytes_acked = BPF_CORE_READ(tp, bytes_acked);
		r->bytes_received = BPF_CORE_READ(tp, bytes_received);
		r->total_retrans = BPF_CORE_READ(tp, total_retrans);
		/* The last of these records of a socket carries its lifetime
		 * totals, whatever the probe sampling skipped. */
		fill_limits(r, sk);
	}
	fill_owner(r);
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
out:
	if (newstate == TCP_CLOSE) {
		bpf_map_delete_elem(&births, &cookie);
		bpf_map_delete_elem(&samples, &cookie);
		bpf_map_delete_elem(&owners, &cookie);
	}
	return 0;
}

/* A reset sent without a socket answers the skb: the local end is the
 * skb's destination. */
static __always_inline bool skb_wanted(const struct sk_buff *skb, struct sk_key *k)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	__u8 v;
	if (bpf_probe_read_kernel(&v, 1, head + nh) < 0)
		return false;
	if ((v >> 4) == 4) {
		__be32 a[2];
		if (bpf_probe_read_kernel(a, sizeof(a), head + nh + 12) < 0)
			return false;
		k->family = 4;
		map4(k->daddr, a[0]);
		map4(k->saddr, a[1]);
	} else if ((v >> 4) == 6) {
		k->family = 6;
		if (bpf_probe_read_kernel(k->daddr, 16, head + nh + 8) < 0 ||
		    bpf_probe_read_kernel(k->saddr, 16, head + nh + 24) < 0)
			return false;
	} else {
		return false;
	}
	__be16 pp[2];
	if (bpf_probe_read_kernel(pp, sizeof(pp), head + th) < 0)
		return false;
	k->dport = bpf_ntohs(pp[0]);
	k->sport = bpf_ntohs(pp[1]);
	if (cfg_filter_owner)
		return false; /* no socket, no owner */
	if (cfg_netns && BPF_CORE_READ(skb, dev, nd_net.net, ns.inum) != cfg_netns)
		return false;
	return key_wanted(k);
}

/* Only the first two arguments are read: a third (the reason) was added in
 * 6.10 and reading it would fail to load on older kernels. */
SEC("tp_btf/tcp_send_reset")
int BPF_PROG(tcp_send_reset, const struct sock *sk, const struct sk_buff *skb)
{
	struct sk_key k;
	__u64 cookie = 0;
	if (sk) {
		if (!netns_ok(sk) || !sk_wanted(sk, &k))
			return 0;
		cookie = bpf_get_socket_cookie((struct sock *)sk);
	} else if (!skb || !skb_wanted(skb, &k)) {
		return 0;
	}
	struct krec *r = krec_new(KIND_RESET, &k);
	if (!r)
		return 0;
	r->reset_dir = 1;
	r->cookie = cookie;
	if (cookie)
		fill_owner(r);
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(tcp_receive_reset, struct sock *sk)
{
	struct sk_key k;
	if (!sk || !netns_ok(sk) || !sk_wanted(sk, &k))
		return 0;
	struct krec *r = krec_new(KIND_RESET, &k);
	if (!r)
		return 0;
	r->reset_dir = 2;
	r->cookie = bpf_get_socket_cookie(sk);
	fill_owner(r);
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

/* send()/recv() on a socket run in its owner's context: learn the owner of
 * server-side sockets, which never pass SYN_SENT. Attached only for
 * --pid/--comm. */
static __always_inline int on_sock_io(struct sock *sk)
{
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP || !netns_ok(sk))
		return 0;
	__u64 cookie = bpf_get_socket_cookie(sk);
	if (bpf_map_lookup_elem(&owners, &cookie))
		return 0;
	learn_owner(sk, cookie);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send_length, struct sock *sk, int ret, int flags)
{
	return on_sock_io(sk);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv_length, struct sock *sk, int ret, int flags)
{
	return on_sock_io(sk);
}
