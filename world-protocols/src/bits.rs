//! Writing and reading values a few bits wide, most significant bit first.
//!
//! The pose encoding packs fields of 2, 10, 11, 16 and 24 bits back to back into a
//! fixed number of bytes. These two helpers do that, one bit at a time, which is slow
//! only in theory (a pose is under 300 bits) and easy to check.

/// Packs values into `N` bytes. Bits never written stay zero.
pub(crate) struct BitWriter<const N: usize> {
    bytes: [u8; N],
    bit: usize,
}

impl<const N: usize> BitWriter<N> {
    /// An empty writer.
    pub(crate) fn new() -> Self {
        Self {
            bytes: [0; N],
            bit: 0,
        }
    }

    /// Appends the low `width` bits of `value`. Bits past the end of the buffer are
    /// dropped; the pose layout is checked at compile time to fit, so that never happens.
    pub(crate) fn write(&mut self, value: u32, width: u32) {
        for shift in (0..width).rev() {
            if (value >> shift) & 1 == 1
                && let Some(byte) = self.bytes.get_mut(self.bit / 8)
            {
                *byte |= 0x80 >> (self.bit % 8);
            }
            self.bit += 1;
        }
    }

    /// Appends a signed value that fits in `width` bits (two's complement range
    /// `-2^(width-1) ..= 2^(width-1) - 1`), stored with an offset so it is unsigned.
    pub(crate) fn write_signed(&mut self, value: i32, width: u32) {
        let offset = 1i64 << (width - 1);
        self.write((i64::from(value) + offset) as u32, width);
    }

    /// The packed bytes.
    pub(crate) fn into_bytes(self) -> [u8; N] {
        self.bytes
    }
}

/// Unpacks values from bytes written by [`BitWriter`].
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    bit: usize,
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, bit: 0 }
    }

    /// Reads `width` bits as an unsigned value, or `None` past the end of the bytes.
    pub(crate) fn read(&mut self, width: u32) -> Option<u32> {
        let mut value = 0;
        for _ in 0..width {
            let byte = self.bytes.get(self.bit / 8)?;
            let bit = (byte >> (7 - self.bit % 8)) & 1;
            value = (value << 1) | u32::from(bit);
            self.bit += 1;
        }
        Some(value)
    }

    /// Reads a value written by [`BitWriter::write_signed`].
    pub(crate) fn read_signed(&mut self, width: u32) -> Option<i32> {
        let offset = 1i64 << (width - 1);
        self.read(width).map(|raw| (i64::from(raw) - offset) as i32)
    }

    /// Whether every bit from here to the end is zero.
    pub(crate) fn rest_is_zero(&mut self) -> bool {
        while let Some(bit) = self.read(1) {
            if bit != 0 {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_most_significant_bit_first() {
        let mut writer = BitWriter::<2>::new();
        writer.write(0b101, 3);
        writer.write(0b1, 1);
        writer.write(0b0_0000_0011, 9);
        assert_eq!(writer.into_bytes(), [0b1011_0000, 0b0001_1000]);
    }

    #[test]
    fn round_trips_signed_and_unsigned_values() {
        let mut writer = BitWriter::<8>::new();
        writer.write(0x3ff, 10);
        writer.write_signed(-1024, 11);
        writer.write_signed(1023, 11);
        writer.write_signed(-1, 24);
        writer.write(0, 2);
        let bytes = writer.into_bytes();
        let mut reader = BitReader::new(&bytes);
        assert_eq!(reader.read(10), Some(0x3ff));
        assert_eq!(reader.read_signed(11), Some(-1024));
        assert_eq!(reader.read_signed(11), Some(1023));
        assert_eq!(reader.read_signed(24), Some(-1));
        assert_eq!(reader.read(2), Some(0));
        assert!(reader.rest_is_zero());
        assert_eq!(reader.read(1), None);
    }

    #[test]
    fn rest_is_zero_sees_a_set_padding_bit() {
        let bytes = [0b1000_0001];
        let mut reader = BitReader::new(&bytes);
        assert_eq!(reader.read(1), Some(1));
        assert!(!reader.rest_is_zero());
    }

    #[test]
    fn writing_past_the_end_is_dropped_not_a_panic() {
        let mut writer = BitWriter::<1>::new();
        writer.write(0xfff, 12);
        assert_eq!(writer.into_bytes(), [0xff]);
    }
}
