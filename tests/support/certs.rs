//! Test certificates: a CA of the test's own and a leaf it signed, as PEM files, for the
//! tests that must show a certificate a client really verifies (HTTPS with a given
//! certificate, `turns:` from a Chromium trusting the CA, pebble's own HTTPS).

use std::path::{Path, PathBuf};

/// A CA named `ca_name` and a leaf for `name` (a DNS name or an IP address, which becomes
/// an iPAddress SAN) it signed, written to `dir` as (ca.pem, cert.pem, key.pem). The CA and
/// the leaf get distinct names: with rcgen's default name on both, the leaf would look
/// self-signed.
pub fn ca_and_leaf(dir: &Path, ca_name: &str, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    // `new` makes an address an iPAddress SAN and anything else a dNSName.
    let mut leaf = CertificateParams::new(vec![name.to_string()]).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, name);
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca_cert.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}
