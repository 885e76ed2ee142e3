/* The timetable: a print button (the page's print CSS fits the week on one A4 sheet). */
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("print-btn");
  if (button) {
    button.addEventListener("click", function () { window.print(); });
  }
});
