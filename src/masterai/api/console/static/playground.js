/* Master AI console, Playground page: the chat pane's two columns.
 * Each column keeps its own transcript ({role, content} objects). Sending a message posts
 * it, with that column's transcript, to the simulate endpoint (the draft column with the
 * draft form's fields, the compare column with the version to compare with), reads the
 * Server-Sent Events (text pieces, then "done" with the rendered trace) and shows them.
 */
(function () {
  "use strict";

  var transcripts = { draft: [], compare: [] };

  function entry(list, role, text) {
    var item = document.createElement("li");
    item.className = "turn " + role;
    var who = document.createElement("strong");
    who.textContent = role === "user" ? "Customer: " : "AI: ";
    var body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    item.appendChild(who);
    item.appendChild(body);
    list.appendChild(item);
    return item;
  }

  function ask(column, url, body, message) {
    var list = column.querySelector(".transcript");
    var name = column.getAttribute("data-column");
    var history = transcripts[name];
    entry(list, "user", message);
    var answer = entry(list, "assistant", "");
    answer.setAttribute("aria-busy", "true");
    var text = answer.querySelector(".text");
    body.append("messages", JSON.stringify(history));
    body.append("message", message);
    body.append("column", name);
    history.push({ role: "user", content: message });
    return window.MasterAIConsole.streamEvents(url, body, function (event, raw) {
      var data = JSON.parse(raw);
      if (event === "text") {
        text.textContent += data.text;
      } else if (event === "done") {
        text.textContent = data.error ? "" : data.reply;
        if (data.error) {
          var problem = document.createElement("span");
          problem.className = "error";
          problem.setAttribute("role", "alert");
          problem.textContent = data.error;
          answer.appendChild(problem);
        } else {
          history.push({ role: "assistant", content: data.reply });
        }
        if (data.html) { answer.insertAdjacentHTML("beforeend", data.html); }
      }
    }).catch(function (error) {
      text.textContent = error.message;
    }).then(function () {
      answer.removeAttribute("aria-busy");
    });
  }

  function setUp() {
    var send = document.getElementById("playground-send");
    var config = document.getElementById("playground-config");
    var chat = document.getElementById("playground-chat");
    if (!send || !config || !chat || !window.MasterAIConsole || !window.fetch || !window.TextDecoder) { return; }
    var url = chat.getAttribute("data-simulate");
    var compare = document.getElementById("compare_version");
    var compareColumn = document.getElementById("column-compare");
    var draftColumn = document.getElementById("column-draft");

    function showCompare() {
      compareColumn.hidden = !compare.value;
      compareColumn.querySelector(".compare-label").textContent = compare.value ? "v" + compare.value : "";
    }
    compare.addEventListener("change", showCompare);
    showCompare();

    document.getElementById("playground-reset").addEventListener("click", function () {
      transcripts.draft = [];
      transcripts.compare = [];
      document.querySelectorAll("#playground-columns .transcript").forEach(function (list) {
        list.textContent = "";
      });
    });

    send.addEventListener("submit", function (event) {
      event.preventDefault();
      var box = send.querySelector("textarea[name=message]");
      var message = box.value.trim();
      if (!message) { return; }
      box.value = "";
      var button = send.querySelector("button[type=submit]");
      button.disabled = true;
      var work = [ask(draftColumn, url, new FormData(config), message)];
      if (compare.value) {
        var other = new FormData();
        other.append("csrf_token", send.querySelector("input[name=csrf_token]").value);
        other.append("compare_version", compare.value);
        work.push(ask(compareColumn, url, other, message));
      }
      Promise.all(work).then(function () { button.disabled = false; box.focus(); });
    });
  }

  document.addEventListener("DOMContentLoaded", setUp);
})();
