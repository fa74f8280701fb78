/**
 * The console's wiring: the ingestions table, uploads, rejected lines and the weekly-average panel, all
 * fed by one event stream. The page starts from GET /ingestions and replays the events after a recent id,
 * so that rows and per-stage times are complete; #event-count says from which id (data-since) and how
 * many events were applied since (data-count), each exactly once.
 */
import { bindTokenField } from "./api.js";
import { EventFeed } from "./events.js";
import { el } from "./format.js";
import { IngestionTable } from "./ingestions.js";
import { RejectsPanel } from "./rejects.js";
import { Uploader } from "./upload.js";
import { WeeklyPanel } from "./weekly.js";

/** How many stored events before the newest the page replays at start (the rows' history). */
const REPLAY = 5000;
const LOG_SIZE = 40;
const RETRY_MS = 2000;

const byId = (id) => document.getElementById(id);

const connection = byId("connection");
const eventCount = byId("event-count");
const eventLog = byId("event-log");

function setConnection(state, reason) {
  connection.dataset.state = state;
  connection.textContent = state === "disconnected" ? `disconnected: ${reason}` : state;
  connection.title = reason;
}

function logEvent(e) {
  const payload = JSON.stringify(e.payload ?? {});
  const li = el("li", "", `${e.id} ${e.type}${e.ingestion_id === null ? "" : ` #${e.ingestion_id}`} ${payload}`);
  eventLog.prepend(li);
  while (eventLog.children.length > LOG_SIZE) eventLog.lastElementChild.remove();
}

const rejects = new RejectsPanel({
  panel: byId("rejects"),
  title: byId("rejects-title"),
  list: byId("reject-list"),
  message: byId("rejects-message"),
  more: byId("rejects-more"),
  close: byId("rejects-close"),
});
const table = new IngestionTable({
  tbody: byId("ingestions").tBodies[0],
  older: byId("older"),
  message: byId("ingestions-message"),
  onRejects: (ing) => rejects.show(ing),
});
new Uploader({ input: byId("upload-input"), dropzone: byId("dropzone"), result: byId("upload-result"), table });
bindTokenField(byId("api-token"));
const weekly = new WeeklyPanel();

/** New trips change the regions and the map: read them again, at most once a second. */
let refreshTimer;
function dataChanged() {
  if (refreshTimer !== undefined) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = undefined;
    weekly.refresh();
  }, 1000);
}

const feed = new EventFeed({
  onEvent(e) {
    table.apply(e);
    logEvent(e);
    eventCount.dataset.count = String(feed.applied);
    eventCount.textContent = `${feed.applied} events applied`;
    if (e.type === "ingestion.completed" || e.type === "ingestion.failed") dataChanged();
  },
  onState: setConnection,
  onResume() {
    table.resync();
    dataChanged();
  },
});

/** The first page of ingestions, then the events after a recent id; retried until the server answers. */
async function start() {
  let newest;
  try {
    newest = await table.loadPage(null);
  } catch (err) {
    setConnection("disconnected", `${err.message}; retrying`);
    setTimeout(start, RETRY_MS);
    return;
  }
  const since = Math.max(0, newest - REPLAY);
  eventCount.dataset.since = String(since);
  feed.start(since);
  weekly.refresh();
}

start();
