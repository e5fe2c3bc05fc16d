// The call boundary. Voice and video calls are not implemented yet; this
// module owns the "Join call" area in the room header and is the one place
// the call UI will plug in.
//
// Contract for the call implementation:
//   mountCallSlot(slot, {client, socket, api}) -> {setRoom(room), destroy()}
//   - slot: an element in the room header, reserved for call controls.
//   - client: the chat client (client.js): client.me, client.rooms,
//     client.on("room" | "members" | "users", ...).
//   - socket: the WebSocket (socket.js): socket.request(frame) for frames
//     that get an ack, socket.send(frame), socket.on("frame:<type>", fn)
//     for server frames (call signaling), socket.on("ready", fn) after
//     every (re)connect.
//   - api: the REST client (api.js), e.g. for GET /rtc/ice-servers.
//   setRoom(room) is called whenever the shown room changes (null: none).
import { h, icon } from "../util/dom.js";

export function mountCallSlot(slot, { client }) {
  const button = h("button.btn.btn-call", {
    type: "button",
    id: "join-call",
    disabled: true,
    title: "Voice and video calls are coming soon",
  }, icon("phone"), h("span.btn-label", "Join call"));
  slot.replaceChildren(button);
  return {
    setRoom(room) {
      slot.hidden = !room;
      void client;
    },
    destroy() {
      slot.replaceChildren();
    },
  };
}
