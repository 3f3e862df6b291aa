//! The few fields of an X.509 certificate the renewal schedule needs: validity, serial and
//! authority key identifier (for ACME Renewal Information, RFC 9773 §4.1).
//!
//! Why by hand: the one parser in the tree (webpki) keeps these private, and x509-parser
//! (with nom and its OID registry) would cost more of the binary budget than this walk over
//! DER's tag-length-value triples, which reads only what a CA's certificate must hold (RFC
//! 5280 §4.1) and fails with `None` on anything else.

/// What a certificate says about itself that the schedule uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    /// Validity start and end, seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// The serial number's content octets (no tag, no length).
    pub serial: Vec<u8>,
    /// The authority key identifier's `keyIdentifier` octets, when present.
    pub authority_key_id: Option<Vec<u8>>,
}

/// One TLV: (tag, content, rest after it).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, &b| (a << 8) | b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The content of a TLV that must have `tag`, and what follows it.
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, content, rest) = tlv(input)?;
    (t == tag).then_some((content, rest))
}

const SEQUENCE: u8 = 0x30;
/// id-ce-authorityKeyIdentifier, 2.5.29.35.
const AKI_OID: &[u8] = &[0x55, 0x1d, 0x23];

/// The facts of one DER certificate, or `None` when it is not one.
pub fn facts(der: &[u8]) -> Option<CertFacts> {
    let (cert, _) = expect(der, SEQUENCE)?;
    let (tbs, _) = expect(cert, SEQUENCE)?;
    let mut rest = tbs;
    // version [0] EXPLICIT, optional.
    if let Some((0xa0, _, after)) = tlv(rest) {
        rest = after;
    }
    let (serial, rest) = expect(rest, 0x02)?;
    let (_signature_alg, rest) = expect(rest, SEQUENCE)?;
    let (_issuer, rest) = expect(rest, SEQUENCE)?;
    let (validity, mut rest) = expect(rest, SEQUENCE)?;
    let (before_tag, before, v) = tlv(validity)?;
    let (after_tag, after, _) = tlv(v)?;
    let mut authority_key_id = None;
    // subject, subjectPublicKeyInfo, then optional [1], [2] unique ids and [3] extensions.
    for _ in 0..2 {
        rest = tlv(rest)?.2;
    }
    while let Some((tag, content, after)) = tlv(rest) {
        if tag == 0xa3 {
            authority_key_id = find_aki(content);
        }
        rest = after;
    }
    Some(CertFacts {
        not_before: time(before_tag, before)?,
        not_after: time(after_tag, after)?,
        serial: serial.to_vec(),
        authority_key_id,
    })
}

/// The `keyIdentifier` [0] of the AuthorityKeyIdentifier extension, in `[3]`'s content.
fn find_aki(explicit: &[u8]) -> Option<Vec<u8>> {
    let (mut exts, _) = expect(explicit, SEQUENCE)?;
    while let Some((content, after)) = expect(exts, SEQUENCE) {
        exts = after;
        let (oid, rest) = expect(content, 0x06)?;
        if oid != AKI_OID {
            continue;
        }
        let rest = match tlv(rest)? {
            (0x01, _, r) => r, // critical BOOLEAN
            _ => rest,
        };
        let (octets, _) = expect(rest, 0x04)?;
        let (aki, _) = expect(octets, SEQUENCE)?;
        let (tag, id, _) = tlv(aki)?;
        return (tag == 0x80).then(|| id.to_vec());
    }
    None
}

/// UTCTime (0x17, `YYMMDDHHMMSSZ`) or GeneralizedTime (0x18, `YYYYMMDDHHMMSSZ`) as Unix
/// seconds.
fn time(tag: u8, text: &[u8]) -> Option<i64> {
    let digits = |s: &[u8]| -> Option<i64> {
        s.iter().try_fold(0i64, |a, &c| {
            c.is_ascii_digit().then(|| a * 10 + i64::from(c - b'0'))
        })
    };
    let (year, rest) = match (tag, text.len()) {
        (0x17, 13) => {
            let yy = digits(&text[..2])?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
        }
        (0x18, 15) => (digits(&text[..4])?, &text[4..]),
        _ => return None,
    };
    if rest[10] != b'Z' {
        return None;
    }
    let f = |i: usize| digits(&rest[i..i + 2]);
    let (month, day, h, m, s) = (f(0)?, f(2)?, f(4)?, f(6)?, f(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

/// An RFC 3339 date-time (`2026-01-02T03:04:05Z`, fractions and offsets allowed) as Unix
/// seconds: the ARI window's bounds (RFC 9773 §4.2).
pub fn rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let sep = |i: usize, c: &[u8]| {
        b.get(i)
            .is_some_and(|x| c.contains(&x.to_ascii_uppercase()))
    };
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"T ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = text.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        rest = frac.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (oh, om): (i64, i64) = (rest[1..3].parse().ok()?, rest[4..6].parse().ok()?);
            let o = oh * 3600 + om * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the well-known era computation).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate made by rcgen with known validity reads back with the same dates and
    /// serial, and garbage reads as `None` (never a panic).
    #[test]
    fn reads_validity_and_serial_of_a_generated_certificate() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["a.test".into()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2026, 1, 2);
        params.not_after = rcgen::date_time_ymd(2051, 3, 4);
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&[1, 2, 3]));
        params.key_identifier_method = rcgen::KeyIdMethod::PreSpecified(vec![9; 20]);
        params.use_authority_key_identifier_extension = true;
        let issuer_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(vec!["ca.test".into()]).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.key_identifier_method = rcgen::KeyIdMethod::PreSpecified(vec![7; 20]);
        let ca_cert = ca.self_signed(&issuer_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, &issuer_key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        let f = facts(cert.der()).expect("parsed");
        assert_eq!(f.not_before, 1_767_312_000);
        assert_eq!(f.not_after, 2_561_500_800);
        assert_eq!(f.serial, vec![1, 2, 3]);
        assert_eq!(f.authority_key_id, Some(vec![7; 20]));
        assert!(facts(ca_cert.der()).is_some());
        for n in 0..cert.der().len() {
            let _ = facts(&cert.der()[..n]);
        }
        assert_eq!(facts(b"\x30\x84\xff\xff\xff\xff"), None);
    }

    #[test]
    fn reads_rfc3339_times() {
        assert_eq!(rfc3339("2026-01-02T00:00:00Z"), Some(1_767_312_000));
        assert_eq!(
            rfc3339("2026-01-02T01:30:00.123456+01:30"),
            Some(1_767_312_000)
        );
        assert_eq!(rfc3339("2026-01-01t22:00:00-02:00"), Some(1_767_312_000));
        for bad in [
            "",
            "2026-01-02",
            "2026-13-02T00:00:00Z",
            "2026-01-02T00:00:00",
            "2026-01-02T00:00:00+1",
        ] {
            assert_eq!(rfc3339(bad), None, "{bad}");
        }
    }
}
