// The one owner of the IndexedDB database "cc-offline" (name, version, stores, upgrades).
// Pages and the service worker open it only through offlineDb(); nobody calls indexedDB.open.
//
// Every record is partitioned by `owner` (a hash of the login, from /api/sync/whoami), so a
// second person on the same phone never sees, uploads or deletes the first one's records.
//
//   outbox    key id (client-generated)   index by-owner   records waiting for the server
//   sent      key id                      index by-owner   acknowledged, with the server's verdict
//   aside     key auto                    index by-owner   corrupted entries, kept and reported
//   residents key [owner, id]             index by-owner   the day's download (roster, ledger, due)
//   meta      key [owner, name]                            cursor, last sync, last online login...
//   drafts    key [owner, path]                            forms typed offline, refilled later
import { openDB } from "../../vendor/idb-8.0.4.js";

export const DB_NAME = "cc-offline";
export const DB_VERSION = 1;
export const DEVICE = "";           // the owner of per-browser meta (device id, current user)

let opening = null;

export function offlineDb() {
  if (!opening) {
    opening = openDB(DB_NAME, DB_VERSION, {
      upgrade(db, oldVersion) {
        if (oldVersion < 1) {
          for (const name of ["outbox", "sent"]) {
            db.createObjectStore(name, { keyPath: "id" }).createIndex("by-owner", "owner");
          }
          db.createObjectStore("aside", { autoIncrement: true }).createIndex("by-owner", "owner");
          db.createObjectStore("residents", { keyPath: ["owner", "id"] }).createIndex("by-owner", "owner");
          db.createObjectStore("meta");
          db.createObjectStore("drafts");
        }
      },
      // A newer page or worker wants to upgrade: let it (this connection reopens on next use).
      blocking() { opening?.then((db) => db.close()); opening = null; },
      terminated() { opening = null; },
    });
  }
  return opening;
}

export async function getMeta(owner, name) {
  return (await offlineDb()).get("meta", [owner, name]);
}

export async function setMeta(owner, name, value) {
  return (await offlineDb()).put("meta", value, [owner, name]);
}

export async function byOwner(store, owner) {
  return (await offlineDb()).getAllFromIndex(store, "by-owner", owner);
}

/** This browser's random device id (reported with the pending count). */
export async function deviceId() {
  let id = await getMeta(DEVICE, "device");
  if (!id) {
    id = "dev-" + randomId();
    await setMeta(DEVICE, "device", id);
  }
  return id;
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** A sortable 26-character id (time + randomness), like the server's ULIDs. */
export function randomId() {
  let time = Date.now();
  let out = "";
  for (let i = 0; i < 10; i++) { out = CROCKFORD[time % 32] + out; time = Math.floor(time / 32); }
  const random = crypto.getRandomValues(new Uint8Array(16));
  for (const byte of random) out += CROCKFORD[byte % 32];
  return out;
}

/** The owner whose data this browser shows (the last person who logged in on it). */
export async function currentOwner() {
  return getMeta(DEVICE, "current");
}

export async function setCurrentOwner(owner) {
  await setMeta(DEVICE, "current", owner);
  if (owner) await setMeta(owner, "last_online_login", Date.now());
}

/** Remove an owner's downloaded residents and sent records (never their unsent records). */
export async function forgetResidents(owner) {
  const db = await offlineDb();
  const tx = db.transaction(["residents", "sent", "meta"], "readwrite");
  const keys = await tx.objectStore("residents").index("by-owner").getAllKeys(owner);
  for (const key of keys) tx.objectStore("residents").delete(key);
  for (const key of await tx.objectStore("sent").index("by-owner").getAllKeys(owner)) tx.objectStore("sent").delete(key);
  tx.objectStore("meta").delete([owner, "cursor"]);
  tx.objectStore("meta").delete([owner, "resident_count"]);
  await tx.done;
  return keys.length;
}
