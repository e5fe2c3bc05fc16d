// Camera, microphone and screen: opening them, and saying clearly what
// went wrong when they cannot be opened. A call never fails to start for
// want of a device: without a camera it is audio only, without a
// microphone it is listen-only, and the person is told why.

export const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
export const VIDEO = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30, max: 30 } };

function hasMediaDevices() {
  return !!navigator.mediaDevices?.getUserMedia;
}

/** Opens the microphone; throws a DOMException (NotAllowedError, NotFoundError, ...). */
export async function openMic() {
  if (!hasMediaDevices()) throw insecure();
  const s = await navigator.mediaDevices.getUserMedia({ audio: AUDIO });
  return s.getAudioTracks()[0];
}

/** Opens the camera. */
export async function openCam() {
  if (!hasMediaDevices()) throw insecure();
  const s = await navigator.mediaDevices.getUserMedia({ video: VIDEO });
  return s.getVideoTracks()[0];
}

/** Asks for a screen, window or tab to share; null if the person cancelled. */
export async function openScreen() {
  if (!navigator.mediaDevices?.getDisplayMedia) throw Object.assign(new Error("Screen sharing is not supported by this browser."), { name: "NotSupportedError" });
  try {
    const s = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
    const track = s.getVideoTracks()[0];
    if ("contentHint" in track) track.contentHint = "detail";
    return track;
  } catch (err) {
    if (err?.name === "NotAllowedError" || err?.name === "AbortError") return null; // cancelled in the picker
    throw err;
  }
}

export function canShareScreen() {
  return !!navigator.mediaDevices?.getDisplayMedia;
}

function insecure() {
  return Object.assign(new Error("Camera and microphone need a secure (HTTPS) connection."), { name: "SecurityError" });
}

async function deviceKinds() {
  try {
    const list = await navigator.mediaDevices.enumerateDevices();
    return { mic: list.some((d) => d.kind === "audioinput"), cam: list.some((d) => d.kind === "videoinput") };
  } catch {
    return { mic: true, cam: true };
  }
}

/**
 * Opens the microphone and camera for joining a call. Returns {mic, cam,
 * notices}: the tracks it got (null for the ones it did not) and what to
 * tell the person about the ones missing.
 */
export async function openDevices({ video = true } = {}) {
  const notices = [];
  if (!hasMediaDevices()) {
    notices.push({ kind: "error", text: "Camera and microphone need a secure (HTTPS) connection: you joined listen-only." });
    return { mic: null, cam: null, notices };
  }
  try {
    const s = await navigator.mediaDevices.getUserMedia(video ? { audio: AUDIO, video: VIDEO } : { audio: AUDIO });
    return { mic: s.getAudioTracks()[0] || null, cam: s.getVideoTracks()[0] || null, notices };
  } catch (err) {
    if (!video) {
      notices.push({ kind: "error", text: micProblem(err) });
      return { mic: null, cam: null, notices };
    }
    // Find out which one failed, one at a time.
    const kinds = await deviceKinds();
    let mic = null;
    let cam = null;
    let micErr = null;
    let camErr = null;
    if (kinds.mic) {
      try { mic = await openMic(); } catch (e) { micErr = e; }
    } else {
      micErr = Object.assign(new Error("no microphone"), { name: "NotFoundError" });
    }
    if (kinds.cam) {
      try { cam = await openCam(); } catch (e) { camErr = e; }
    } else {
      camErr = Object.assign(new Error("no camera"), { name: "NotFoundError" });
    }
    if (!mic && !micErr) micErr = err;
    if (!cam && !camErr) camErr = err;
    if (micErr?.name === "NotAllowedError" && camErr?.name === "NotAllowedError") {
      notices.push({ kind: "error", text: "Camera and microphone access is blocked: you joined listen-only. Allow them in your browser's site settings, then unmute." });
    } else {
      if (micErr) notices.push({ kind: "error", text: micProblem(micErr) });
      if (camErr) notices.push({ kind: mic ? "info" : "error", text: camProblem(camErr, !!mic) });
    }
    return { mic, cam, notices };
  }
}

/** What to tell the person when the microphone cannot be opened. */
export function micProblem(err) {
  switch (err?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Microphone access is blocked: you joined listen-only. Allow the microphone in your browser's site settings, then unmute.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No microphone found: you joined listen-only. Connect one, then unmute.";
    case "NotReadableError":
      return "Your microphone is in use by another app or could not be started: you joined listen-only.";
    default:
      return "Could not open your microphone: you joined listen-only." + (err?.message ? ` (${err.message})` : "");
  }
}

/** What to tell the person when the camera cannot be opened. */
export function camProblem(err, withAudio = true) {
  const joined = withAudio ? "you joined with audio only" : "your camera stays off";
  switch (err?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return `Camera access is blocked: ${joined}. Allow the camera in your browser's site settings to turn it on.`;
    case "NotFoundError":
    case "OverconstrainedError":
      return `No camera found: ${joined}.`;
    case "NotReadableError":
      return `Your camera is in use by another app or could not be started: ${joined}.`;
    default:
      return `Could not open your camera: ${joined}.` + (err?.message ? ` (${err.message})` : "");
  }
}

export function screenProblem(err) {
  if (err?.name === "NotSupportedError") return "Screen sharing is not supported by this browser.";
  if (err?.name === "NotReadableError") return "Your screen could not be captured. Check your system's screen recording permission.";
  return "Could not share your screen." + (err?.message ? ` (${err.message})` : "");
}
