/* Kernel structures read by the tracepoint programs, trimmed to the fields
 * tcpviz uses. preserve_access_index makes every access a CO-RE relocation:
 * offsets come from the running kernel's BTF at load time, so the layout
 * below only has to name the fields, not match the kernel's. */
#pragma once

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct ns_common {
	unsigned int inum;
};

struct net {
	struct ns_common ns;
};

typedef struct {
	struct net *net;
} possible_net_t;

struct in6_addr {
	__u8 s6_addr[16];
};

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
};

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
	unsigned long sk_pacing_rate;
	int sk_wmem_queued;
	int sk_sndbuf;
};

struct inet_sock {
	__be16 inet_sport;
};

struct inet_connection_sock {
	__u8 icsk_ca_state : 5;
	__u8 icsk_retransmits;
	__u8 icsk_pending;
};

struct minmax_sample {
	__u32 t;
	__u32 v;
};

struct minmax {
	struct minmax_sample s[3];
};

/* The window-scale shifts: snd_wscale applies to the windows the peer
 * advertises, rcv_wscale to ours. */
struct tcp_options_received {
	__u16 wscale_ok : 1;
	__u16 snd_wscale : 4;
	__u16 rcv_wscale : 4;
};

struct tcp_sock {
	__u32 snd_cwnd;
	__u32 snd_ssthresh;
	__u32 srtt_us;
	__u32 mdev_us;
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
	__u32 mss_cache;
	__u64 bytes_acked;
	__u64 bytes_received;
	/* Chronographs (Linux >= 4.10): chrono_type was a 2-bit field before
	 * 6.x and is a byte now, so it is read with the bitfield helper. */
	__u8 chrono_type : 2;
	__u32 chrono_start;
	__u32 chrono_stat[3];
	__u8 is_cwnd_limited : 1;
	__u8 rate_app_limited : 1;
	__u32 rate_delivered;
	__u32 rate_interval_us;
	struct minmax rtt_min;
	__u32 write_seq;
	struct tcp_options_received rx_opt;
};

struct net_device {
	possible_net_t nd_net;
};

struct sk_buff {
	char cb[48];
	struct net_device *dev;
	unsigned char *head;
	__u16 transport_header;
	__u16 network_header;
	__be16 protocol;
};

/* The TCP control block the kernel keeps in skb->cb. tcp_flags grew from
 * u8 to u16 in 6.x and the GSO count lives in an anonymous union, which is
 * why both are read through CO-RE rather than at fixed offsets. */
struct tcp_skb_cb {
	__u32 seq;
	__u32 end_seq;
	__u16 tcp_gso_segs;
	__u16 tcp_flags;
};

struct task_struct {
	int tgid;
};

#pragma clang attribute pop
