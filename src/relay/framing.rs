//! Splitting a TCP/TLS byte stream into STUN messages and ChannelData frames
//! (RFC 8656 §12.5: over streams, ChannelData is padded to a multiple of 4).

/// Frame boundaries cannot be found: the connection should be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramingError;

/// Length of the frame starting at `buf[0]`, once the 4-byte header is there.
/// `Ok(None)` means more bytes are needed to know.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, FramingError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    match buf[0] >> 6 {
        // STUN: 20-byte header + attributes (already a multiple of 4).
        0 if len % 4 == 0 => Ok(Some(20 + len)),
        // ChannelData: 4-byte header + data padded to 4.
        1 => Ok(Some(4 + len.next_multiple_of(4))),
        _ => Err(FramingError),
    }
}

/// Accumulates stream bytes and yields whole frames.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
}

impl StreamFramer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Next complete frame (STUN message or ChannelData including padding),
    /// suitable for `Server::handle`.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        match frame_len(&self.buf)? {
            Some(n) if self.buf.len() >= n => Ok(Some(self.buf.drain(..n).collect())),
            _ => Ok(None),
        }
    }

    /// Bytes waiting for the rest of their frame (bounded by one frame,
    /// at most 65555 bytes, as long as the caller drains `next_frame`).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::wire;

    #[test]
    fn splits_stun_and_padded_channel_data() {
        let binding = [
            0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
        ];
        let cd = wire::channel_data(0x4001, b"hello");
        assert_eq!(cd.len(), 12);
        let mut stream = binding.to_vec();
        stream.extend_from_slice(&cd);
        stream.extend_from_slice(&binding);
        let mut f = StreamFramer::new();
        let mut frames = Vec::new();
        for chunk in stream.chunks(3) {
            f.push(chunk);
            while let Some(frame) = f.next_frame().unwrap() {
                frames.push(frame);
            }
        }
        assert_eq!(frames, vec![binding.to_vec(), cd, binding.to_vec()]);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn rejects_unframeable_bytes() {
        let mut f = StreamFramer::new();
        f.push(&[0x80, 0, 0, 0]);
        assert_eq!(f.next_frame(), Err(FramingError));
        assert_eq!(frame_len(&[0, 1, 0, 3]), Err(FramingError));
    }
}
