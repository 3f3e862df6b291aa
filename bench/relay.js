// Page script of bench/relay.rs: a raw data channel between two
// RTCPeerConnections restricted to relay candidates (iceTransportPolicy
// 'relay'), SDP carried by the driver after gathering completes (bench/sdp.js
// defines benchGathered; bench/sdp.rs negotiates).
window.relayBench = {
  async offer(cfg) {
    const pc = new RTCPeerConnection(cfg);
    relayBench.pc = pc;
    relayBench.dc = pc.createDataChannel('bench', { ordered: true });
    relayBench.dc.binaryType = 'arraybuffer';
    await pc.setLocalDescription(await pc.createOffer());
    await benchGathered(pc);
    return JSON.stringify(pc.localDescription);
  },
  async answer(cfg, offer) {
    const pc = new RTCPeerConnection(cfg);
    relayBench.pc = pc;
    relayBench.done = null;
    pc.ondatachannel = ev => {
      const dc = ev.channel;
      dc.binaryType = 'arraybuffer';
      let got = 0, total = 0, start = 0;
      dc.onmessage = m => {
        if (typeof m.data === 'string') { total = Number(m.data); got = 0; start = performance.now(); return; }
        got += m.data.byteLength;
        if (got >= total) relayBench.done = performance.now() - start;
      };
    };
    await pc.setRemoteDescription(JSON.parse(offer));
    await pc.setLocalDescription(await pc.createAnswer());
    await benchGathered(pc);
    return JSON.stringify(pc.localDescription);
  },
  async accept(answer) {
    await relayBench.pc.setRemoteDescription(JSON.parse(answer));
    const dc = relayBench.dc;
    await new Promise(r => dc.readyState === 'open' ? r() : (dc.onopen = r));
    return true;
  },
  // {types: "relay/relay", local: "ip:port"} once the selected pair is known.
  async selectedPair() {
    const stats = await relayBench.pc.getStats();
    for (const r of stats.values()) {
      if (r.type !== 'transport' || !r.selectedCandidatePairId) continue;
      const p = stats.get(r.selectedCandidatePairId);
      const l = stats.get(p.localCandidateId), rem = stats.get(p.remoteCandidateId);
      return { types: l.candidateType + '/' + rem.candidateType, local: l.address + ':' + l.port };
    }
    return null;
  },
  close() {
    if (relayBench.pc) relayBench.pc.close();
    relayBench.pc = null; relayBench.dc = null; relayBench.done = null;
    return true;
  },
  // Sends `total` bytes in the largest messages SCTP allows, with a deep buffer.
  async push(total) {
    const dc = relayBench.dc;
    const size = Math.min(relayBench.pc.sctp.maxMessageSize || 65536, 262144);
    const buf = new Uint8Array(size);
    dc.bufferedAmountLowThreshold = 4 << 20;
    dc.send(String(total));
    let sent = 0;
    while (sent < total) {
      if (dc.bufferedAmount > (12 << 20)) await new Promise(r => (dc.onbufferedamountlow = r));
      const n = Math.min(size, total - sent);
      dc.send(n === size ? buf : buf.subarray(0, n));
      sent += n;
    }
    return size;
  },
};
true
