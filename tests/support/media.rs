//! Media files for the browser tests, generated (no binary fixtures in the repo): a BMP photo
//! and a WAV voice message, each returned with its SHA-256 to check what arrives.

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::support::files::hex;

/// A 24-bit BMP of `w`×`h` with a colour pattern; returns its SHA-256.
pub fn write_bmp(path: &Path, w: u32, h: u32) -> String {
    let row = (w * 3).div_ceil(4) * 4;
    let size = 54 + row * h;
    let mut b = Vec::with_capacity(size as usize);
    b.extend_from_slice(b"BM");
    for v in [size, 0, 54, 40, w, h] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&24u16.to_le_bytes());
    for v in [0, row * h, 2835, 2835, 0, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for y in 0..h {
        for x in 0..w {
            b.extend_from_slice(&[
                (x * 255 / w) as u8,
                (y * 255 / h) as u8,
                ((x ^ y) & 0xff) as u8,
            ]);
        }
        b.resize(b.len() + (row - w * 3) as usize, 0);
    }
    std::fs::File::create(path).unwrap().write_all(&b).unwrap();
    hex(&Sha256::digest(&b))
}

/// One second of a 440 Hz tone as 8 kHz 16-bit mono WAV; returns its SHA-256.
pub fn write_wav(path: &Path) -> String {
    let rate = 8000u32;
    let samples: Vec<i16> = (0..rate)
        .map(|i| ((i as f64 * 440.0 * std::f64::consts::TAU / rate as f64).sin() * 8000.0) as i16)
        .collect();
    let data = samples.len() as u32 * 2;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    for v in [1u16, 1] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for v in [rate, rate * 2] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for v in [2u16, 16] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::File::create(path).unwrap().write_all(&b).unwrap();
    hex(&Sha256::digest(&b))
}
