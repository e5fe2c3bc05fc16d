// SDP helpers for the call: which track the SFU sends on each m-line.

/**
 * Maps each m-line's mid to the msid the SFU gave its track, read from an
 * SDP: {stream, track}. The SFU's stream ID is the publisher's user ID and
 * its track ID "<user id>:<kind>" (docs/protocol.md, "Connections").
 * Browsers do not all use the msid as MediaStreamTrack.id, so the mid is
 * the reliable link between a transceiver and what it carries.
 */
export function msidsByMid(sdp) {
  const out = new Map();
  let mid = null;
  let msid = null;
  const flush = () => {
    if (mid !== null && msid) out.set(mid, msid);
  };
  for (const line of String(sdp || "").split(/\r?\n/)) {
    if (line.startsWith("m=")) {
      flush();
      mid = null;
      msid = null;
    } else if (line.startsWith("a=mid:")) {
      mid = line.slice(6).trim();
    } else if (line.startsWith("a=msid:") && !msid) {
      const [stream, track] = line.slice(7).trim().split(/\s+/);
      if (stream && track) msid = { stream, track };
    }
  }
  flush();
  return out;
}

