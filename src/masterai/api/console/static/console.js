/* Master AI console: the little behaviour htmx does not cover. No inline script anywhere.
 * - JSON fields (textarea[data-json]) are checked as you type.
 * - Forms with data-stream post to a Server-Sent Events endpoint, show the streamed text in
 *   the data-stream-live element, and on the "done" event open data-stream-done.
 */
(function () {
  "use strict";

  function checkJson(area) {
    var kind = area.getAttribute("data-json");
    var error = document.getElementById(area.id + "-error");
    var text = area.value.trim();
    var message = "";
    if (text) {
      try {
        var value = JSON.parse(text);
        if (kind === "array" && !Array.isArray(value)) {
          message = "must be a JSON array";
        } else if (kind === "object" && (value === null || typeof value !== "object" || Array.isArray(value))) {
          message = "must be a JSON object";
        }
      } catch (e) {
        message = "not valid JSON: " + e.message;
      }
    }
    if (message) {
      area.setAttribute("aria-invalid", "true");
    } else {
      area.removeAttribute("aria-invalid");
    }
    if (error) {
      error.textContent = message;
    }
  }

  document.addEventListener("input", function (event) {
    var target = event.target;
    if (target instanceof HTMLTextAreaElement && target.hasAttribute("data-json")) {
      checkJson(target);
    }
  });

  /* --- streamed chat answers ------------------------------------------------------ */

  function parseEvents(buffer, onEvent) {
    var parts = buffer.split(/\r?\n\r?\n/);
    var rest = parts.pop();
    parts.forEach(function (block) {
      var name = "message";
      var data = [];
      block.split(/\r?\n/).forEach(function (line) {
        if (line.indexOf("event:") === 0) {
          name = line.slice(6).trim();
        } else if (line.indexOf("data:") === 0) {
          data.push(line.slice(5).replace(/^ /, ""));
        }
      });
      if (data.length) {
        onEvent(name, data.join("\n"));
      }
    });
    return rest;
  }

  /* POST ``body`` to ``url`` and call ``onEvent(name, data)`` for each Server-Sent Event of
   * the answer, as it arrives; the promise ends with the stream (shared with playground.js). */
  function streamEvents(url, body, onEvent) {
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Accept": "text/event-stream" }
    }).then(function (response) {
      if (!response.ok || !response.body) {
        throw new Error("The request failed (" + response.status + ").");
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) { return; }
          buffer = parseEvents(buffer + decoder.decode(chunk.value, { stream: true }), onEvent);
          return pump();
        });
      }
      return pump();
    });
  }

  window.MasterAIConsole = { streamEvents: streamEvents };

  function stream(form, submitter) {
    var live = document.getElementById(form.getAttribute("data-stream-live"));
    var done = form.getAttribute("data-stream-done");
    var buttons = form.querySelectorAll("button[type=submit]");
    var body = new FormData(form);
    if (submitter && submitter.name) { body.append(submitter.name, submitter.value); }
    buttons.forEach(function (b) { b.disabled = true; });
    if (live) { live.textContent = ""; live.hidden = false; }
    streamEvents(form.getAttribute("data-stream"), body, function (name, data) {
      var event;
      try { event = JSON.parse(data); } catch (e) { event = { text: data }; }
      if (name === "text" && live) {
        live.textContent += event.text || "";
      } else if ((name === "notice" || name === "step_started" || name === "step_finished") && live) {
        live.textContent += "\n[" + (event.text || name.replace("_", " ")) + "]\n";
      } else if (name === "done" && done) {
        window.location.assign(done.replace("{conversation_id}", encodeURIComponent(event.conversation_id || "")));
      } else if (name === "error" && live) {
        live.textContent += "\n" + ((event.error && event.error.message) || "error");
      }
    }).catch(function (error) {
      if (live) { live.textContent += "\n" + error.message; }
    }).then(function () {
      buttons.forEach(function (b) { b.disabled = false; });
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    if (submitter && submitter.hasAttribute("data-no-stream")) { return; }
    if (form instanceof HTMLFormElement && form.hasAttribute("data-stream") && window.fetch && window.TextDecoder) {
      event.preventDefault();
      stream(form, submitter);
    }
  });

  /* Open and scroll to an audit record named in the address (#record-N). */
  function focusRecord() {
    var id = window.location.hash.slice(1);
    if (!id) { return; }
    var record = document.getElementById(id);
    if (record && record.tagName === "DETAILS") {
      record.open = true;
      var summary = record.querySelector("summary");
      if (summary) { summary.focus(); }
    }
  }
  document.addEventListener("DOMContentLoaded", focusRecord);
})();
