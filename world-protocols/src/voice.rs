//! Voice packets: one Opus frame of one speaker, sent as a QUIC datagram on the
//! [`ALPN_VOICE`](crate::alpn::ALPN_VOICE) connection to each listener.
//!
//! The connection proves who speaks (it is authenticated by the speaker's key), so a
//! packet carries no signature: only what the listener's jitter buffer needs. The layout
//! is fixed and little-endian:
//!
//! | bytes | field |
//! | --- | --- |
//! | 0 | version, [`VOICE_VERSION`] |
//! | 1 | flags: bit 0 a 10 ms frame (else 20 ms), bit 1 the last packet of a talk spurt, bit 2 a private call, bit 3 a reception report |
//! | 2..6 | sequence number: frames since the speaker's stream started, wrapping |
//! | 6.. | the Opus frame, at most [`VOICE_PAYLOAD_MAX`] bytes; empty only in a last packet |
//!
//! A listener answers the frames it hears with a [`ReceptionReport`] about once a second,
//! on the same connection the other way: flags bit 3 (and bit 2 when it is about a call),
//! the sequence number of the newest frame heard, and one byte, the share of frames that
//! were missing when their turn came to play, in percent. The speaker lowers its bitrate
//! and spends more on FEC when its listeners miss frames.
//!
//! Anything else (another version, unknown flag bits, an empty frame that does not end a
//! spurt, a report with other flags or another length, too many bytes) is refused by
//! [`VoiceDatagram::decode`].

use crate::limits::VOICE_PAYLOAD_MAX;

/// The version byte every voice packet starts with.
pub const VOICE_VERSION: u8 = 1;

/// Bytes before the Opus frame.
pub const VOICE_HEADER_LEN: usize = 6;

const FLAG_SHORT_FRAME: u8 = 1;
const FLAG_END: u8 = 1 << 1;
const FLAG_CALL: u8 = 1 << 2;
const FLAG_REPORT: u8 = 1 << 3;
const FLAGS_KNOWN: u8 = FLAG_SHORT_FRAME | FLAG_END | FLAG_CALL;

/// How much sound one packet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FrameDuration {
    /// 10 ms: lower latency, more packets.
    Ms10,
    /// 20 ms: the default.
    #[default]
    Ms20,
}

impl FrameDuration {
    /// The frame's length in milliseconds.
    pub fn millis(self) -> u32 {
        match self {
            Self::Ms10 => 10,
            Self::Ms20 => 20,
        }
    }

    /// Samples in one frame at `sample_rate` Hz.
    pub fn samples(self, sample_rate: u32) -> usize {
        (sample_rate / 1000 * self.millis()) as usize
    }
}

/// One Opus frame from one speaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoicePacket {
    /// Frames since the speaker's stream started (wraps at `u32::MAX`).
    pub seq: u32,
    /// How much sound the frame holds.
    pub frame: FrameDuration,
    /// The last packet of a talk spurt: the listener may stop waiting for more.
    pub end: bool,
    /// Meant for a private call: heard wherever the two stand, never mixed by distance.
    pub call: bool,
    /// The Opus frame (empty only when `end`).
    pub opus: Vec<u8>,
}

/// Why bytes are not a voice packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VoicePacketError {
    /// Fewer bytes than the header.
    #[error("voice packet shorter than its header")]
    TooShort,
    /// More bytes than the largest frame allows.
    #[error("voice packet longer than {max} bytes", max = VOICE_HEADER_LEN + VOICE_PAYLOAD_MAX)]
    TooLong,
    /// A version this build does not speak.
    #[error("voice packet version {0} is not {VOICE_VERSION}")]
    Version(u8),
    /// Flag bits that mean nothing.
    #[error("voice packet has unknown flags {0:#04x}")]
    Flags(u8),
    /// No sound in a packet that does not end a spurt.
    #[error("voice packet carries no frame")]
    Empty,
    /// A reception report that is not one flag, one byte, at most 100 %.
    #[error("malformed voice reception report")]
    Report,
}

/// A listener's word on how a speaker's frames arrive, sent back to the speaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceptionReport {
    /// The newest frame heard.
    pub seq: u32,
    /// About the frames of a private call.
    pub call: bool,
    /// Frames missing when their turn came to play (lost or late), in percent, 0..=100.
    pub loss_percent: u8,
}

impl ReceptionReport {
    /// The report's bytes, as sent in one datagram.
    pub fn encode(&self) -> Vec<u8> {
        let flags = if self.call {
            FLAG_REPORT | FLAG_CALL
        } else {
            FLAG_REPORT
        };
        let mut bytes = Vec::with_capacity(VOICE_HEADER_LEN + 1);
        bytes.push(VOICE_VERSION);
        bytes.push(flags);
        bytes.extend_from_slice(&self.seq.to_le_bytes());
        bytes.push(self.loss_percent.min(100));
        bytes
    }

    /// The missing share as a fraction, 0..=1.
    pub fn loss(&self) -> f32 {
        f32::from(self.loss_percent.min(100)) / 100.0
    }
}

/// Anything that travels on a voice connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoiceDatagram {
    /// A speaker's frame.
    Frame(VoicePacket),
    /// A listener's reception report.
    Report(ReceptionReport),
}

impl VoiceDatagram {
    /// The datagram's bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Frame(packet) => packet.encode(),
            Self::Report(report) => report.encode(),
        }
    }

    /// Reads one datagram, refusing anything [`encode`](Self::encode) would not write.
    pub fn decode(bytes: &[u8]) -> Result<Self, VoicePacketError> {
        match bytes {
            [VOICE_VERSION, flags, rest @ ..] if flags & FLAG_REPORT != 0 => {
                let call = match flags & !FLAG_REPORT {
                    0 => false,
                    FLAG_CALL => true,
                    _ => return Err(VoicePacketError::Report),
                };
                let [seq0, seq1, seq2, seq3, loss_percent] = *rest else {
                    return Err(VoicePacketError::Report);
                };
                if loss_percent > 100 {
                    return Err(VoicePacketError::Report);
                }
                Ok(Self::Report(ReceptionReport {
                    seq: u32::from_le_bytes([seq0, seq1, seq2, seq3]),
                    call,
                    loss_percent,
                }))
            }
            _ => VoicePacket::decode(bytes).map(Self::Frame),
        }
    }
}

impl VoicePacket {
    /// The packet's bytes, as sent in one datagram.
    pub fn encode(&self) -> Vec<u8> {
        let mut flags = 0;
        if self.frame == FrameDuration::Ms10 {
            flags |= FLAG_SHORT_FRAME;
        }
        if self.end {
            flags |= FLAG_END;
        }
        if self.call {
            flags |= FLAG_CALL;
        }
        let mut bytes = Vec::with_capacity(VOICE_HEADER_LEN + self.opus.len());
        bytes.push(VOICE_VERSION);
        bytes.push(flags);
        bytes.extend_from_slice(&self.seq.to_le_bytes());
        bytes.extend_from_slice(&self.opus);
        bytes
    }

    /// Reads one datagram, refusing anything [`encode`](Self::encode) would not write.
    pub fn decode(bytes: &[u8]) -> Result<Self, VoicePacketError> {
        if bytes.len() > VOICE_HEADER_LEN + VOICE_PAYLOAD_MAX {
            return Err(VoicePacketError::TooLong);
        }
        let Some((header, opus)) = bytes.split_first_chunk::<VOICE_HEADER_LEN>() else {
            return Err(VoicePacketError::TooShort);
        };
        let [version, flags, seq @ ..] = *header;
        if version != VOICE_VERSION {
            return Err(VoicePacketError::Version(version));
        }
        if flags & !FLAGS_KNOWN != 0 {
            return Err(VoicePacketError::Flags(flags));
        }
        let end = flags & FLAG_END != 0;
        if opus.is_empty() && !end {
            return Err(VoicePacketError::Empty);
        }
        Ok(Self {
            seq: u32::from_le_bytes(seq),
            frame: if flags & FLAG_SHORT_FRAME != 0 {
                FrameDuration::Ms10
            } else {
                FrameDuration::Ms20
            },
            end,
            call: flags & FLAG_CALL != 0,
            opus: opus.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(opus: &[u8]) -> VoicePacket {
        VoicePacket {
            seq: 0x0102_0304,
            frame: FrameDuration::Ms20,
            end: false,
            call: false,
            opus: opus.to_vec(),
        }
    }

    #[test]
    fn packets_round_trip_with_every_flag() {
        for frame in [FrameDuration::Ms10, FrameDuration::Ms20] {
            for end in [false, true] {
                for call in [false, true] {
                    let sent = VoicePacket {
                        frame,
                        end,
                        call,
                        ..packet(&[7; 60])
                    };
                    let bytes = sent.encode();
                    assert_eq!(bytes.len(), VOICE_HEADER_LEN + 60);
                    assert_eq!(VoicePacket::decode(&bytes), Ok(sent));
                }
            }
        }
        let last = VoicePacket {
            end: true,
            ..packet(&[])
        };
        assert_eq!(VoicePacket::decode(&last.encode()), Ok(last));
    }

    #[test]
    fn malformed_packets_are_refused() {
        let good = packet(&[1, 2, 3]).encode();
        assert_eq!(VoicePacket::decode(&good[..5]), Err(VoicePacketError::TooShort));
        assert_eq!(VoicePacket::decode(&[]), Err(VoicePacketError::TooShort));
        let mut version = good.clone();
        version[0] = 2;
        assert_eq!(VoicePacket::decode(&version), Err(VoicePacketError::Version(2)));
        let mut flags = good.clone();
        flags[1] = 0x80;
        assert_eq!(VoicePacket::decode(&flags), Err(VoicePacketError::Flags(0x80)));
        assert_eq!(VoicePacket::decode(&good[..6]), Err(VoicePacketError::Empty));
        let huge = packet(&[0; VOICE_PAYLOAD_MAX + 1]).encode();
        assert_eq!(VoicePacket::decode(&huge), Err(VoicePacketError::TooLong));
        let largest = packet(&[0; VOICE_PAYLOAD_MAX]).encode();
        assert!(VoicePacket::decode(&largest).is_ok());
    }

    #[test]
    fn reports_round_trip_and_odd_ones_are_refused() {
        for call in [false, true] {
            for loss_percent in [0, 7, 100] {
                let report = ReceptionReport {
                    seq: 77,
                    call,
                    loss_percent,
                };
                let bytes = report.encode();
                assert_eq!(VoiceDatagram::decode(&bytes), Ok(VoiceDatagram::Report(report)));
                assert!(VoicePacket::decode(&bytes).is_err(), "a report is no frame");
            }
        }
        let frame = packet(&[1, 2]);
        assert_eq!(
            VoiceDatagram::decode(&frame.encode()),
            Ok(VoiceDatagram::Frame(frame))
        );
        let good = ReceptionReport {
            seq: 1,
            call: false,
            loss_percent: 5,
        }
        .encode();
        let mut over = good.clone();
        over[6] = 101;
        let mut flags = good.clone();
        flags[1] |= FLAG_END;
        for bad in [over, flags, good[..6].to_vec(), [good.as_slice(), &[0]].concat()] {
            assert_eq!(
                VoiceDatagram::decode(&bad),
                Err(VoicePacketError::Report),
                "{bad:?}"
            );
        }
        assert_eq!(
            ReceptionReport {
                seq: 0,
                call: false,
                loss_percent: 25
            }
            .loss(),
            0.25
        );
    }

    #[test]
    fn frames_hold_the_samples_of_their_duration() {
        assert_eq!(FrameDuration::Ms20.samples(48_000), 960);
        assert_eq!(FrameDuration::Ms10.samples(48_000), 480);
    }
}
