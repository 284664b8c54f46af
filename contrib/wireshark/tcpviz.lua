-- tcpviz.lua: Wireshark dissector for tcpviz kernel TCP records.
--
-- tcpviz capture writes the kernel's own view of each TCP socket (congestion
-- window, smoothed RTT, retransmissions, state changes, resets) into pcapng
-- Custom Blocks next to the packets. This plugin decodes those records into
-- filterable fields (tcpviz.snd_cwnd, tcpviz.srtt_us, tcpviz.kind, ...) and
-- copies the newest congestion state of the connection onto every TCP packet
-- (tcpviz.pkt.snd_cwnd, tcpviz.pkt.srtt_us, tcpviz.pkt.ca_state, ...), so IO
-- graphs, columns and filters such as
--     tcpviz.pkt.snd_cwnd < 10 && tcp.analysis.retransmission
-- work on the packets themselves.
--
-- Install: `tcpviz wireshark install`, or copy this file into Wireshark's
-- personal Lua plugins folder (Help > About > Folders). Format:
-- docs/pcapng-kernel-blocks.md. Field list: docs/wireshark.md.
--
-- Wireshark 4.4 and later hand Custom Blocks to the "pcapng_custom_block"
-- dissector table by PEN; older versions (4.0, 4.2) show them as data
-- frames, so a post-dissector decodes them there (it runs anyway, for the
-- per-packet copy).

local PLUGIN_VERSION = "1"

-- PENS are the Private Enterprise Numbers of tcpviz records. 32473 is the
-- number RFC 5612 sets aside for documentation; once tcpviz has a number of
-- its own, add it here and keep 32473 so older files still decode.
local PENS = { 32473 }

local HEADER_LEN = 64
local MAX_RECORD_LEN = 4096

local KINDS = { [1] = "probe", [2] = "retransmit", [3] = "state", [4] = "reset" }
local KIND_PROBE, KIND_RETRANSMIT, KIND_STATE, KIND_RESET = 1, 2, 3, 4

local TCP_STATES = {
    [1] = "ESTABLISHED", [2] = "SYN_SENT", [3] = "SYN_RECV", [4] = "FIN_WAIT1", [5] = "FIN_WAIT2",
    [6] = "TIME_WAIT", [7] = "CLOSE", [8] = "CLOSE_WAIT", [9] = "LAST_ACK", [10] = "LISTEN",
    [11] = "CLOSING", [12] = "NEW_SYN_RECV",
}
local CA_STATES = { [0] = "open", [1] = "disorder", [2] = "cwr", [3] = "recovery", [4] = "loss" }
local RESET_DIRS = { [1] = "sent", [2] = "received" }
local TIMERS = { [0] = "none", [1] = "retransmit", [2] = "delayed ACK", [3] = "zero-window probe", [4] = "reorder", [5] = "loss probe" }
local FAMILIES = { [4] = "IPv4", [6] = "IPv6" }

-- FIELDS is the TLV table of docs/pcapng-kernel-blocks.md. To add a field,
-- add a line: code, name (the filter is tcpviz.NAME), label, and
--   bits  = 8, 32 or 64: the width of the value once decoded (the Go type in
--           pcapng/kblock); any integer of 1, 2, 4 or 8 bytes is accepted
--   str   = true for a byte string, bool = true for a 0/1 flag
--   vals  = value names, base = base.HEX for flags
--   pkt   = true to copy the field onto TCP packets as tcpviz.pkt.NAME
--   opt   = true when an absent field is unknown (otherwise absent means 0)
-- Codes not in the table are shown as tcpviz.field.* and skipped.
local FIELDS = {
    { 1, "snd_cwnd", "Congestion window (segments)", bits = 32, pkt = true },
    { 2, "ssthresh", "Slow-start threshold (segments)", bits = 32, pkt = true },
    { 3, "srtt_us", "Smoothed RTT (us)", bits = 32, pkt = true },
    { 4, "rttvar_us", "RTT variance (us)", bits = 32, pkt = true },
    { 5, "snd_wnd", "Peer's receive window (bytes)", bits = 32, pkt = true },
    { 6, "rcv_wnd", "Advertised receive window (bytes)", bits = 32, pkt = true },
    { 7, "packets_out", "Segments in flight", bits = 32, pkt = true },
    { 8, "retrans_out", "Retransmitted segments in flight", bits = 32, pkt = true },
    { 9, "lost_out", "Segments marked lost", bits = 32, pkt = true },
    { 10, "sacked_out", "Segments SACKed", bits = 32, pkt = true },
    { 11, "delivered", "Segments delivered", bits = 32, pkt = true },
    { 12, "total_retrans", "Retransmitted segments (socket lifetime)", bits = 32, pkt = true },
    { 13, "snd_una", "First unacknowledged sequence number", bits = 32, pkt = true },
    { 14, "snd_nxt", "Next sequence number to send", bits = 32, pkt = true },
    { 15, "rcv_nxt", "Next sequence number expected", bits = 32, pkt = true },
    { 16, "mss", "MSS (bytes)", bits = 32, pkt = true },
    { 17, "ca_state", "Congestion state", bits = 8, vals = CA_STATES, pkt = true },
    { 18, "pacing_rate", "Pacing rate (bytes/s)", bits = 64, pkt = true },
    { 32, "seq", "Retransmitted sequence number", bits = 32 },
    { 33, "end_seq", "Sequence number after the retransmitted data", bits = 32 },
    { 34, "tcp_flags", "TCP flags of the retransmitted segment", bits = 8, base = base.HEX },
    { 35, "segs", "Segments retransmitted", bits = 32 },
    { 48, "old_state", "Previous TCP state", bits = 8, vals = TCP_STATES },
    { 49, "new_state", "New TCP state", bits = 8, vals = TCP_STATES },
    { 50, "pid", "Process ID", bits = 32 },
    { 51, "comm", "Command", str = true },
    { 52, "bytes_acked", "Bytes acknowledged (socket lifetime)", bits = 64 },
    { 53, "bytes_received", "Bytes received (socket lifetime)", bits = 64 },
    { 54, "span_ns", "Time since the first state change (ns)", bits = 64 },
    { 64, "reset_dir", "Reset direction", bits = 8, vals = RESET_DIRS },
    -- What limited the sender (80-99): written when the kernel could read
    -- them, zero included, so an absent one is unknown, not 0 (opt).
    { 80, "busy_us", "Busy time: data to send (us)", bits = 64, pkt = true, opt = true },
    { 81, "rwnd_limited_us", "Receive-window limited time (us)", bits = 64, pkt = true, opt = true },
    { 82, "sndbuf_limited_us", "Send-buffer limited time (us)", bits = 64, pkt = true, opt = true },
    { 83, "cwnd_limited", "Congestion-window limited", bool = true, pkt = true, opt = true },
    { 84, "app_limited", "Application limited (last rate sample)", bool = true, pkt = true, opt = true },
    { 85, "rate_delivered", "Segments delivered in the last rate sample", bits = 32, pkt = true, opt = true },
    { 86, "rate_interval_us", "Interval of the last rate sample (us)", bits = 32, pkt = true, opt = true },
    { 87, "min_rtt_us", "Minimum RTT (us)", bits = 32, pkt = true, opt = true },
    { 88, "unsent_bytes", "Bytes written, not sent yet", bits = 32, pkt = true, opt = true },
    { 89, "wmem_queued", "Send queue (bytes)", bits = 32, pkt = true, opt = true },
    { 90, "sndbuf", "Send buffer size (bytes)", bits = 32, pkt = true, opt = true },
    { 91, "snd_wscale", "Window scale of the peer's windows", bits = 8, pkt = true, opt = true },
    { 92, "rcv_wscale", "Window scale of this socket's windows", bits = 8, pkt = true, opt = true },
    -- Why a segment was retransmitted (100-119): read at the retransmission.
    { 100, "timer_pending", "Timer being handled (5 = loss probe)", bits = 8, vals = TIMERS, opt = true },
    { 101, "retransmits", "RTO backoffs so far", bits = 8, opt = true },
}

local proto = Proto("tcpviz", "tcpviz kernel TCP record")

local pf = {
    version = ProtoField.uint8("tcpviz.version", "Version", base.DEC),
    kind = ProtoField.uint8("tcpviz.kind", "Kind", base.DEC, KINDS),
    hdr_len = ProtoField.uint16("tcpviz.hdr_len", "Header length", base.DEC),
    rec_len = ProtoField.uint32("tcpviz.rec_len", "Record length", base.DEC),
    time = ProtoField.absolute_time("tcpviz.time", "Kernel time", base.UTC),
    cookie = ProtoField.uint64("tcpviz.cookie", "Socket cookie", base.HEX),
    family = ProtoField.uint8("tcpviz.family", "Address family", base.DEC, FAMILIES),
    sport = ProtoField.uint16("tcpviz.sport", "Local port", base.DEC),
    dport = ProtoField.uint16("tcpviz.dport", "Remote port", base.DEC),
    saddr = ProtoField.ipv4("tcpviz.saddr", "Local address"),
    daddr = ProtoField.ipv4("tcpviz.daddr", "Remote address"),
    saddr6 = ProtoField.ipv6("tcpviz.saddr6", "Local address (IPv6)"),
    daddr6 = ProtoField.ipv6("tcpviz.daddr6", "Remote address (IPv6)"),
    retrans_len = ProtoField.uint32("tcpviz.retrans_len", "Retransmitted length (end_seq - seq)", base.DEC),
    field = ProtoField.none("tcpviz.field", "Unknown field"),
    field_code = ProtoField.uint16("tcpviz.field.code", "Code", base.DEC),
    field_len = ProtoField.uint16("tcpviz.field.len", "Length", base.DEC),
    field_value = ProtoField.bytes("tcpviz.field.value", "Value"),
    field_uint = ProtoField.uint64("tcpviz.field.uint", "Value as an integer", base.DEC),
    pkt = ProtoField.none("tcpviz.pkt", "Kernel state of the connection"),
    pkt_frame = ProtoField.framenum("tcpviz.pkt.frame", "From kernel record in frame"),
    pkt_kind = ProtoField.uint8("tcpviz.pkt.kind", "From record of kind", base.DEC, KINDS),
    pkt_age = ProtoField.relative_time("tcpviz.pkt.age", "Age of the kernel record"),
    pkt_sent = ProtoField.bool("tcpviz.pkt.sent", "Packet sent by the socket the record describes"),
}

local by_code = {} -- code -> FIELDS entry
local pkt_fields = {} -- FIELDS entries copied onto packets

local function int_field(abbr, f)
    local base_ = f.base or base.DEC
    if f.bits == 64 then
        return ProtoField.uint64(abbr, f[3], base_)
    elseif f.bits == 8 then
        return ProtoField.uint8(abbr, f[3], base_, f.vals)
    end
    return ProtoField.uint32(abbr, f[3], base_, f.vals)
end

for _, f in ipairs(FIELDS) do
    local code, name = f[1], f[2]
    by_code[code] = f
    if f.str then
        f.pf = ProtoField.string("tcpviz." .. name, f[3])
    elseif f.bool then
        f.pf = ProtoField.bool("tcpviz." .. name, f[3])
    else
        f.pf = int_field("tcpviz." .. name, f)
    end
    pf[name] = f.pf
    if f.pkt then
        f.pkt_pf = f.bool and ProtoField.bool("tcpviz.pkt." .. name, f[3]) or int_field("tcpviz.pkt." .. name, f)
        pf["pkt_" .. name] = f.pkt_pf
        pkt_fields[#pkt_fields + 1] = f
    end
end

local ef = {
    malformed = ProtoExpert.new("tcpviz.malformed", "Malformed tcpviz kernel record",
        expert.group.MALFORMED, expert.severity.ERROR),
    version = ProtoExpert.new("tcpviz.version.unsupported", "Unsupported tcpviz record version",
        expert.group.UNDECODED, expert.severity.WARN),
    retransmit = ProtoExpert.new("tcpviz.retransmission", "Kernel retransmission",
        expert.group.SEQUENCE, expert.severity.WARN),
    ca_change = ProtoExpert.new("tcpviz.ca_state.change", "Congestion state change",
        expert.group.SEQUENCE, expert.severity.NOTE),
    reset = ProtoExpert.new("tcpviz.reset", "Kernel reset",
        expert.group.SEQUENCE, expert.severity.WARN),
}

local hf_list, hf_names = {}, {}
for name in pairs(pf) do hf_names[#hf_names + 1] = name end
table.sort(hf_names)
for _, name in ipairs(hf_names) do hf_list[#hf_list + 1] = pf[name] end
proto.fields = hf_list
proto.experts = { ef.malformed, ef.version, ef.retransmit, ef.ca_change, ef.reset }

local f_cb_pen = Field.new("frame.cb_pen")
local f_time = Field.new("frame.time")
local f_ip_src = Field.new("ip.src")
local f_ip_dst = Field.new("ip.dst")
local f_ip6_src = Field.new("ipv6.src")
local f_ip6_dst = Field.new("ipv6.dst")
local f_tcp_srcport = Field.new("tcp.srcport")
local f_tcp_dstport = Field.new("tcp.dstport")

-- History of congestion state per socket, keyed "local|remote": records of
-- kinds that carry it (probe, retransmit), kept sorted by frame number so the
-- value shown on a packet depends on frame numbers only, never on the order
-- in which Wireshark dissects frames.
local history = {}
local seen = {} -- frame number -> true once its record is in history

function proto.init()
    history = {}
    seen = {}
end

-- newest returns the entry of h with the largest frame number below frame.
local function newest(h, frame)
    local lo, hi, found = 1, #h, nil
    while lo <= hi do
        local mid = math.floor((lo + hi) / 2)
        if h[mid].frame < frame then
            found = h[mid]
            lo = mid + 1
        else
            hi = mid - 1
        end
    end
    return found
end

local function remember(key, entry)
    local h = history[key]
    if not h then
        h = {}
        history[key] = h
    end
    local i = #h + 1
    while i > 1 and h[i - 1].frame > entry.frame do
        h[i] = h[i - 1]
        i = i - 1
    end
    h[i] = entry
end

-- printable returns s unchanged when it is printable ASCII; otherwise with
-- other bytes (and backslashes) escaped as \xNN, so a command name from the
-- kernel cannot garble a display or a terminal.
local function printable(s)
    if not s:find("[^\32-\126]") then
        return s
    end
    return (s:gsub(".", function(c)
        local b = c:byte()
        if b < 32 or b > 126 or c == "\\" then
            return string.format("\\x%02x", b)
        end
    end))
end

local function endpoint(addr, port, family)
    if family == 6 then
        return "[" .. tostring(addr) .. "]:" .. port
    end
    return tostring(addr) .. ":" .. port
end

local function fmt_us(us)
    if us >= 1000 then
        return string.format("%.1fms", us / 1000)
    end
    return string.format("%dus", us)
end

-- read_uint reads a little-endian integer of 1, 2, 4 or 8 bytes as the
-- field's width: 64-bit fields stay UInt64, narrower ones are numbers,
-- truncated like the Go decoder truncates.
local function read_uint(r, len, bits)
    if len == 8 then
        local v = r:le_uint64()
        if bits == 64 then return v end
        local low = v:lower()
        if bits == 8 then return low % 256 end
        return low
    elseif len == 1 or len == 2 or len == 4 then
        local v = r:le_uint()
        if bits == 64 then return UInt64.new(v) end
        if bits == 8 then return v % 256 end
        return v
    end
    return nil
end

-- malformed flags a record the Go decoder (pcapng/kblock) refuses too; such
-- a record is not used for the per-packet copy.
local function malformed(item, pinfo, msg)
    item:add_proto_expert_info(ef.malformed, msg)
    pinfo.cols.info:set("kernel record, malformed: " .. msg)
end

-- decode dissects one kernel record in tvb (the custom data of a block).
local function decode(tvb, pinfo, tree)
    local n = tvb:len()
    pinfo.cols.protocol:set("tcpviz")
    local root = tree:add(proto, tvb())
    if n < 8 then
        return malformed(root, pinfo, string.format("record of %d bytes is shorter than its 8-byte prefix", n))
    end
    local version = tvb(0, 1):uint()
    root:add(pf.version, tvb(0, 1))
    if version ~= 1 then
        root:add_proto_expert_info(ef.version, string.format("version %d: this plugin decodes version 1", version))
        pinfo.cols.info:set(string.format("tcpviz kernel record version %d (not decoded)", version))
        return
    end
    local kind = tvb(1, 1):uint()
    local hlen = tvb(2, 2):le_uint()
    local rlen = tvb(4, 4):le_uint()
    root:add(pf.kind, tvb(1, 1))
    local hl_item = root:add_le(pf.hdr_len, tvb(2, 2))
    local rl_item = root:add_le(pf.rec_len, tvb(4, 4))
    if hlen < HEADER_LEN then
        return malformed(hl_item, pinfo, string.format("header length %d below %d", hlen, HEADER_LEN))
    end
    if rlen < hlen or rlen > n or rlen > MAX_RECORD_LEN then
        return malformed(rl_item, pinfo, string.format("record length %d outside [%d, %d]", rlen, hlen, math.min(n, MAX_RECORD_LEN)))
    end
    root:set_len(rlen)

    local secs = tvb(8, 8):le_int64()
    local ns = secs % 1000000000
    local ts = NSTime.new((secs / 1000000000):tonumber(), ns:tonumber())
    if ns:tonumber() < 0 then
        ts = NSTime.new((secs / 1000000000):tonumber() - 1, ns:tonumber() + 1000000000)
    end
    root:add(pf.time, tvb(8, 8), ts)
    root:add_le(pf.cookie, tvb(16, 8))
    local family = tvb(24, 1):uint()
    local fam_item = root:add(pf.family, tvb(24, 1))
    local sport = tvb(26, 2):le_uint()
    local dport = tvb(28, 2):le_uint()
    root:add_le(pf.sport, tvb(26, 2))
    root:add_le(pf.dport, tvb(28, 2))
    local saddr, daddr
    if family == 4 then
        saddr, daddr = tvb(32, 4):ipv4(), tvb(48, 4):ipv4()
        root:add(pf.saddr, tvb(32, 4))
        root:add(pf.daddr, tvb(48, 4))
    elseif family == 6 then
        saddr, daddr = tvb(32, 16):ipv6(), tvb(48, 16):ipv6()
        root:add(pf.saddr6, tvb(32, 16))
        root:add(pf.daddr6, tvb(48, 16))
    else
        return malformed(fam_item, pinfo, string.format("address family %d, want 4 or 6", family))
    end

    local v = {} -- name -> value of the fields present
    local off = hlen
    while off < rlen do
        if rlen - off < 4 then
            return malformed(root, pinfo, string.format("offset %d: field header runs past the record", off))
        end
        local code = tvb(off, 2):le_uint()
        local len = tvb(off + 2, 2):le_uint()
        if len > rlen - off - 4 then
            return malformed(root, pinfo, string.format("offset %d: field %d length %d runs past the record", off, code, len))
        end
        local f = by_code[code]
        local r = len > 0 and tvb(off + 4, len) or tvb(off, 4)
        if f and f.str then
            local s = len > 0 and printable(r:raw()) or ""
            root:add(f.pf, r, s)
            v[f[2]] = s
        elseif f then
            local x = read_uint(r, len, f.bool and 8 or f.bits)
            if x ~= nil and f.bool then x = x ~= 0 end
            if x == nil then
                return malformed(root, pinfo, string.format("offset %d: field %d (%s): integer field of %d bytes", off, code, f[2], len))
            else
                root:add(f.pf, r, x)
                v[f[2]] = x
            end
        else
            local item = root:add(pf.field, tvb(off, 4 + len))
            item:append_text(string.format(" %d (%d bytes)", code, len))
            item:add_le(pf.field_code, tvb(off, 2))
            item:add_le(pf.field_len, tvb(off + 2, 2))
            if len > 0 then
                item:add(pf.field_value, r)
                if len == 1 or len == 2 or len == 4 or len == 8 then
                    item:add(pf.field_uint, r, read_uint(r, len, 64))
                end
            end
        end
        off = off + 4 + len + (4 - len % 4) % 4
    end

    local kname = KINDS[kind] or string.format("kind%d", kind)
    root:append_text(string.format(", %s, %s -> %s", kname, endpoint(saddr, sport, family), endpoint(daddr, dport, family)))
    local frame = pinfo.number
    local key = endpoint(saddr, sport, family) .. "|" .. endpoint(daddr, dport, family)
    local ca = v.ca_state
    if kind == KIND_PROBE and ca == nil then ca = 0 end

    -- Probes, and retransmit records that carry the congestion state, feed
    -- the per-packet copy (tcpviz's detectors use the same records for the
    -- kernel context of their events). A congestion-state change is told
    -- against the socket's previous such record.
    if kind == KIND_PROBE or (kind == KIND_RETRANSMIT and v.snd_cwnd) then
        if not seen[frame] then
            seen[frame] = true
            remember(key, { frame = frame, kind = kind, ts = ts, v = v, ca = ca or 0 })
        end
        local prev = history[key] and newest(history[key], frame)
        if prev and prev.ca ~= (ca or 0) then
            root:add_proto_expert_info(ef.ca_change, string.format("Congestion state %s -> %s",
                CA_STATES[prev.ca] or tostring(prev.ca), CA_STATES[ca or 0] or tostring(ca)))
        end
    end

    local info = { "kernel", kname }
    local function add(s) info[#info + 1] = s end
    if kind == KIND_PROBE then
        if v.snd_cwnd then add("cwnd=" .. v.snd_cwnd) end
        if v.ssthresh then add("ssthresh=" .. (v.ssthresh >= 2147483647 and "inf" or v.ssthresh)) end
        if v.srtt_us then add("srtt=" .. fmt_us(v.srtt_us)) end
        if ca and ca ~= 0 then add("ca=" .. (CA_STATES[ca] or ca)) end
    elseif kind == KIND_RETRANSMIT then
        local seq, eseq = v.seq or 0, v.end_seq or 0
        local len = (eseq - seq) % 4294967296
        root:add(pf.retrans_len, len):set_generated()
        add("seq=" .. seq)
        add("len=" .. len)
        if v.segs and v.segs > 1 then add("segs=" .. v.segs) end
        if v.snd_cwnd then add("cwnd=" .. v.snd_cwnd) end
        if ca then add("ca=" .. (CA_STATES[ca] or ca)) end
        -- One message per congestion state, so Expert Information groups
        -- them; sequence and length are in the record's fields.
        root:add_proto_expert_info(ef.retransmit, "Kernel retransmission" ..
            (ca and (", congestion state " .. (CA_STATES[ca] or ca)) or ""))
    elseif kind == KIND_STATE then
        add((TCP_STATES[v.old_state] or tostring(v.old_state)) .. " -> " .. (TCP_STATES[v.new_state] or tostring(v.new_state)))
    elseif kind == KIND_RESET then
        local d = RESET_DIRS[v.reset_dir or 0] or "direction unknown"
        add(d)
        root:add_proto_expert_info(ef.reset, "Kernel reset " .. d)
    end
    if v.comm then add("comm=" .. v.comm) end
    add(endpoint(saddr, sport, family) .. " -> " .. endpoint(daddr, dport, family))
    pinfo.cols.info:set(table.concat(info, " "))
end

local function last(f)
    local all = { f() }
    return all[#all]
end

-- copy adds the newest congestion state of the packet's connection.
local function copy(pinfo, tree, sport, dport)
    if next(history) == nil then
        return -- no kernel record so far: most captures cost nothing here
    end
    local src, dst = last(f_ip_src), last(f_ip_dst)
    local family = 4
    if not src then
        src, dst = last(f_ip6_src), last(f_ip6_dst)
        family = 6
    end
    if not src or not dst then return end
    local a = endpoint(src.value, sport, family)
    local b = endpoint(dst.value, dport, family)
    local frame = pinfo.number
    local e, sent = nil, true
    if history[a .. "|" .. b] then
        e = newest(history[a .. "|" .. b], frame)
    end
    if not e and history[b .. "|" .. a] then
        e, sent = newest(history[b .. "|" .. a], frame), false
    end
    if not e then return end
    local t = tree:add(pf.pkt):set_generated()
    t:append_text(string.format(": cwnd=%s srtt=%s (frame %d)", tostring(e.v.snd_cwnd or 0),
        fmt_us(e.v.srtt_us or 0), e.frame))
    t:add(pf.pkt_frame, e.frame):set_generated()
    t:add(pf.pkt_kind, e.kind):set_generated()
    t:add(pf.pkt_sent, sent):set_generated()
    local now = f_time()
    if now then
        t:add(pf.pkt_age, now.value - e.ts):set_generated()
    end
    for _, f in ipairs(pkt_fields) do
        local x = e.v[f[2]]
        if x == nil and not f.opt then
            -- An absent field is 0 (writers leave zero values out).
            x = f.bits == 64 and UInt64.new(0) or 0
        end
        if x ~= nil then
            t:add(f.pkt_pf, x):set_generated()
        end
    end
end

local is_pen = {}
for _, p in ipairs(PENS) do is_pen[p] = true end

local table_mode = false

function proto.dissector(tvb, pinfo, tree)
    local pen = f_cb_pen()
    if pen then
        -- Wireshark without the PEN dissector table: the frame is a custom
        -- block's data.
        if is_pen[pen.value] then
            decode(tvb, pinfo, tree)
        end
        return
    end
    local sport, dport = last(f_tcp_srcport), last(f_tcp_dstport)
    if sport and dport then
        copy(pinfo, tree, sport.value, dport.value)
    end
end

register_postdissector(proto)

-- Wireshark 4.4+: register for our PENs in the custom block table. The
-- table's dissector is a second protocol without fields of its own, so the
-- post-dissector above (per-packet copy) is not run twice on a record.
local ok, blocks = pcall(DissectorTable.get, "pcapng_custom_block")
if ok and blocks then
    local block_proto = Proto("tcpviz_block", "tcpviz kernel record (pcapng custom block)")
    function block_proto.dissector(tvb, pinfo, tree)
        decode(tvb, pinfo, tree)
        return tvb:len()
    end
    for _, p in ipairs(PENS) do blocks:add(p, block_proto) end
    table_mode = true
end

proto.prefs.info = Pref.statictext("tcpviz Wireshark plugin version " .. PLUGIN_VERSION ..
    (table_mode and " (pcapng_custom_block table)" or " (post-dissector on frame.cb_pen)"))
