// Shared by the benches' page scripts (bench/relay.js, the transfer bench's raw channel):
// the driver carries SDP between two pages without trickle ICE, so a description is handed
// over only once gathering is complete.
window.benchGathered = async (pc) => {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise(r => { pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); });
};
true
