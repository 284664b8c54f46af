package kblock

import "encoding/json"

// plainRecord is Record without its JSON methods.
type plainRecord Record

// recordJSON adds the send-limit groups to a record's JSON, each only when
// the record carries it, so an absent field never reads as 0.
type recordJSON struct {
	*plainRecord
	BusyUS          *uint64 `json:"busy_us,omitempty"`
	RwndLimitedUS   *uint64 `json:"rwnd_limited_us,omitempty"`
	SndbufLimitedUS *uint64 `json:"sndbuf_limited_us,omitempty"`
	CwndLimited     *bool   `json:"cwnd_limited,omitempty"`
	AppLimited      *bool   `json:"app_limited,omitempty"`
	RateDelivered   *uint32 `json:"rate_delivered,omitempty"`
	RateIntervalUS  *uint32 `json:"rate_interval_us,omitempty"`
	MinRTTus        *uint32 `json:"min_rtt_us,omitempty"`
	Unsent          *uint32 `json:"unsent_bytes,omitempty"`
	WmemQueued      *uint32 `json:"wmem_queued,omitempty"`
	Sndbuf          *uint32 `json:"sndbuf,omitempty"`
	SndWScale       *uint8  `json:"snd_wscale,omitempty"`
	RcvWScale       *uint8  `json:"rcv_wscale,omitempty"`
	TimerPending    *uint8  `json:"timer_pending,omitempty"`
	Retransmits     *uint8  `json:"retransmits,omitempty"`
}

// MarshalJSON writes the record with its present send-limit fields.
func (r Record) MarshalJSON() ([]byte, error) {
	j := recordJSON{plainRecord: (*plainRecord)(&r)}
	if r.Has&HasChrono != 0 {
		j.BusyUS, j.RwndLimitedUS, j.SndbufLimitedUS = &r.BusyUS, &r.RwndLimitedUS, &r.SndbufLimitedUS
	}
	if r.Has&HasCwndLimited != 0 {
		j.CwndLimited = &r.CwndLimited
	}
	if r.Has&HasAppLimited != 0 {
		j.AppLimited = &r.AppLimited
	}
	if r.Has&HasRate != 0 {
		j.RateDelivered, j.RateIntervalUS = &r.RateDelivered, &r.RateIntervalUS
	}
	if r.Has&HasMinRTT != 0 {
		j.MinRTTus = &r.MinRTTus
	}
	if r.Has&HasUnsent != 0 {
		j.Unsent = &r.Unsent
	}
	if r.Has&HasWmem != 0 {
		j.WmemQueued, j.Sndbuf = &r.WmemQueued, &r.Sndbuf
	}
	if r.Has&HasWScale != 0 {
		j.SndWScale, j.RcvWScale = &r.SndWScale, &r.RcvWScale
	}
	if r.HasTimer {
		j.TimerPending, j.Retransmits = &r.TimerPending, &r.Retransmits
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Record) UnmarshalJSON(b []byte) error {
	*r = Record{}
	j := recordJSON{plainRecord: (*plainRecord)(r)}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	u64 := func(p *uint64, dst *uint64, bit uint16) {
		if p != nil {
			*dst, r.Has = *p, r.Has|bit
		}
	}
	u32 := func(p *uint32, dst *uint32, bit uint16) {
		if p != nil {
			*dst, r.Has = *p, r.Has|bit
		}
	}
	u64(j.BusyUS, &r.BusyUS, HasChrono)
	u64(j.RwndLimitedUS, &r.RwndLimitedUS, HasChrono)
	u64(j.SndbufLimitedUS, &r.SndbufLimitedUS, HasChrono)
	if j.CwndLimited != nil {
		r.CwndLimited, r.Has = *j.CwndLimited, r.Has|HasCwndLimited
	}
	if j.AppLimited != nil {
		r.AppLimited, r.Has = *j.AppLimited, r.Has|HasAppLimited
	}
	u32(j.RateDelivered, &r.RateDelivered, HasRate)
	u32(j.RateIntervalUS, &r.RateIntervalUS, HasRate)
	u32(j.MinRTTus, &r.MinRTTus, HasMinRTT)
	u32(j.Unsent, &r.Unsent, HasUnsent)
	u32(j.WmemQueued, &r.WmemQueued, HasWmem)
	u32(j.Sndbuf, &r.Sndbuf, HasWmem)
	if j.SndWScale != nil {
		r.SndWScale, r.Has = *j.SndWScale, r.Has|HasWScale
	}
	if j.RcvWScale != nil {
		r.RcvWScale, r.Has = *j.RcvWScale, r.Has|HasWScale
	}
	if j.TimerPending != nil {
		r.TimerPending, r.HasTimer = *j.TimerPending, true
	}
	if j.Retransmits != nil {
		r.Retransmits = *j.Retransmits
	}
	return nil
}
