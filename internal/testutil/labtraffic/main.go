//go:build linux

// Command labtraffic is a small TCP sender/receiver for the network-namespace
// lab (internal/lab, scripts/lab.sh). It makes the traffic patterns tcpviz's
// samples and tests need: bulk transfers with a chosen congestion control, a
// receiver that stops reading (zero window, zero-window probes), slow readers,
// idle connections with keep-alives, and connection attempts that fail.
//
//	labtraffic server -l addr:port [--rcvbuf N] [--read-delay D] [--pause-after N --no-read-for D] [--once]
//	labtraffic client -c addr:port --bytes N [--cc cubic|bbr|reno] [--sndbuf N]
//	                  [--write-size N] [--write-gap D]
//	                  [--keepalive D --idle D] [--connect-timeout D] [--conns N] [--rst]
//
// The client sends --bytes bytes (with --write-gap, in writes of --write-size
// separated by silences: an application-limited sender whose every burst
// ends in a tail), then (with --idle) keeps the connection open
// and silent for --idle, then closes. The server reads and discards. Both
// print one summary line; the server prints "listening on ADDR" when ready.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "server":
		err = runServer(os.Args[2:])
	case "client":
		err = runClient(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "labtraffic:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: labtraffic server -l addr:port [flags] | labtraffic client -c addr:port --bytes N [flags]")
	os.Exit(2)
}

// sockopts are applied to a socket before listen/connect, so that buffer
// sizes shape the window scale announced in the SYN.
type sockopts struct {
	cc     string
	sndbuf int
	rcvbuf int
}

func (o sockopts) control(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		s := int(fd)
		if o.cc != "" {
			// Root may pick any built-in algorithm per socket, even one
			// the namespace's tcp_allowed_congestion_control omits.
			if err := syscall.SetsockoptString(s, syscall.IPPROTO_TCP, syscall.TCP_CONGESTION, o.cc); err != nil {
				serr = fmt.Errorf("set congestion control %q: %w", o.cc, err)
				return
			}
		}
		if o.sndbuf > 0 {
			if err := syscall.SetsockoptInt(s, syscall.SOL_SOCKET, syscall.SO_SNDBUF, o.sndbuf); err != nil {
				serr = fmt.Errorf("set SO_SNDBUF: %w", err)
				return
			}
		}
		if o.rcvbuf > 0 {
			if err := syscall.SetsockoptInt(s, syscall.SOL_SOCKET, syscall.SO_RCVBUF, o.rcvbuf); err != nil {
				serr = fmt.Errorf("set SO_RCVBUF: %w", err)
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}

func runServer(args []string) error {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	listen := fs.String("l", "", "listen address `addr:port` (required)")
	var so sockopts
	fs.IntVar(&so.rcvbuf, "rcvbuf", 0, "SO_RCVBUF in bytes (small values make zero windows easy)")
	fs.StringVar(&so.cc, "cc", "", "congestion control for the accepted sockets (data the server sends: ACKs only)")
	readDelay := fs.Duration("read-delay", 0, "sleep this long before each read (a slow reader)")
	readSize := fs.Int("read-size", 64<<10, "bytes per read")
	pauseAfter := fs.Int64("pause-after", 0, "stop reading after this many bytes (with --no-read-for)")
	noRead := fs.Duration("no-read-for", 0, "stop reading for this long once --pause-after bytes were read (zero window)")
	once := fs.Bool("once", false, "exit after the first connection ends")
	_ = fs.Parse(args)
	if *listen == "" {
		return errors.New("server: -l addr:port is required")
	}
	lc := net.ListenConfig{Control: so.control}
	ln, err := lc.Listen(context.Background(), "tcp", *listen)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	defer ln.Close()
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		ln.Close()
	}()
	fmt.Printf("listening on %s\n", ln.Addr())
	r := reader{delay: *readDelay, size: *readSize, pauseAfter: *pauseAfter, pauseFor: *noRead}
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("server: accept: %w", err)
		}
		if *once {
			r.serve(c)
			return nil
		}
		go r.serve(c)
	}
}

// reader is how the server consumes a connection.
type reader struct {
	delay      time.Duration
	size       int
	pauseAfter int64
	pauseFor   time.Duration
}

func (r reader) serve(c net.Conn) {
	defer c.Close()
	start := time.Now()
	buf := make([]byte, max(r.size, 1))
	var total int64
	paused := r.pauseFor <= 0
	var err error
	for {
		if !paused && total >= r.pauseAfter {
			paused = true
			fmt.Printf("%s: not reading for %v after %d bytes\n", c.RemoteAddr(), r.pauseFor, total)
			time.Sleep(r.pauseFor)
		}
		if r.delay > 0 {
			time.Sleep(r.delay)
		}
		want := len(buf)
		if !paused && r.pauseAfter-total < int64(want) {
			want = int(r.pauseAfter - total)
		}
		var n int
		n, err = c.Read(buf[:max(want, 1)])
		total += int64(n)
		if err != nil {
			break
		}
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	d := time.Since(start)
	fmt.Printf("%s: received %d bytes in %v (%.1f Mbit/s)%s\n", c.RemoteAddr(), total, d.Round(time.Millisecond),
		float64(total*8)/d.Seconds()/1e6, errSuffix(err))
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ", error: " + err.Error()
}

func runClient(args []string) error {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	connect := fs.String("c", "", "server address `addr:port` (required)")
	var cl client
	fs.Int64Var(&cl.bytes, "bytes", 0, "bytes to send")
	fs.StringVar(&cl.so.cc, "cc", "", "congestion control (cubic, bbr, reno) set with TCP_CONGESTION")
	fs.IntVar(&cl.so.sndbuf, "sndbuf", 0, "SO_SNDBUF in bytes")
	fs.IntVar(&cl.so.rcvbuf, "rcvbuf", 0, "SO_RCVBUF in bytes")
	keepalive := fs.Duration("keepalive", 0, "enable keep-alives: idle time before the first probe and interval between probes (whole seconds)")
	fs.DurationVar(&cl.idle, "idle", 0, "after sending, keep the connection open and silent this long")
	connTimeout := fs.Duration("connect-timeout", 10*time.Second, "give up connecting after this long")
	fs.IntVar(&cl.writeSize, "write-size", 64<<10, "bytes per write")
	fs.DurationVar(&cl.writeGap, "write-gap", 0, "sleep this long between writes (application-limited bursts)")
	fs.BoolVar(&cl.reset, "rst", false, "end the connection with a RST (SO_LINGER 0) instead of a FIN")
	conns := fs.Int("conns", 1, "connections to make, one after the other")
	_ = fs.Parse(args)
	if *connect == "" {
		return errors.New("client: -c addr:port is required")
	}
	cl.addr = *connect
	cl.dialer = net.Dialer{Timeout: *connTimeout, Control: cl.so.control}
	if *keepalive > 0 {
		cl.dialer.KeepAliveConfig = net.KeepAliveConfig{Enable: true, Idle: *keepalive, Interval: *keepalive, Count: 9}
	} else {
		cl.dialer.KeepAlive = -1 // Go enables keep-alives by default; samples must not have stray ones
	}
	for i := 0; i < max(*conns, 1); i++ {
		if err := cl.run(); err != nil {
			return fmt.Errorf("client: connection %d: %w", i+1, err)
		}
	}
	return nil
}

// client is one sender configuration.
type client struct {
	addr      string
	dialer    net.Dialer
	so        sockopts
	bytes     int64
	idle      time.Duration
	writeSize int
	writeGap  time.Duration
	reset     bool
}

func (cl *client) run() error {
	start := time.Now()
	c, err := cl.dialer.Dial("tcp", cl.addr)
	if err != nil {
		return fmt.Errorf("connect after %v: %w", time.Since(start).Round(time.Millisecond), err)
	}
	defer c.Close()
	buf := make([]byte, max(cl.writeSize, 1))
	for i := range buf {
		buf[i] = byte(i)
	}
	var sent int64
	for sent < cl.bytes {
		if sent > 0 && cl.writeGap > 0 {
			time.Sleep(cl.writeGap)
		}
		n := int64(len(buf))
		if rest := cl.bytes - sent; rest < n {
			n = rest
		}
		m, err := c.Write(buf[:n])
		sent += int64(m)
		if err != nil {
			return fmt.Errorf("write after %d bytes: %w", sent, err)
		}
	}
	if cl.idle > 0 {
		time.Sleep(cl.idle)
	}
	tc, ok := c.(*net.TCPConn)
	switch {
	case !ok:
	case cl.reset:
		// Linger 0: close sends a RST and discards unsent data.
		if err := tc.SetLinger(0); err != nil {
			return fmt.Errorf("set linger: %w", err)
		}
	default:
		// Half-close and wait for the server's FIN, so the capture holds a
		// clean teardown and "done" means the server has read everything.
		if err := tc.CloseWrite(); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Minute))
		if _, err := io.Copy(io.Discard, c); err != nil {
			return fmt.Errorf("wait for server close: %w", err)
		}
	}
	dur := time.Since(start)
	fmt.Printf("sent %d bytes to %s in %v (%.1f Mbit/s)\n", sent, cl.addr, dur.Round(time.Millisecond),
		float64(sent*8)/dur.Seconds()/1e6)
	return nil
}
