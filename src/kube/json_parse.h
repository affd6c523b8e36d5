// Parsing API server JSON into a document, optionally "slim": without the
// fields the operator never reads (metadata.managedFields and the
// kubectl last-applied annotation), which are often half an object's bytes.
// Slim parsing drops them while parsing, so they never reach memory.
#pragma once

#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

namespace kube {

rapidjson::ParseResult ParseJson(rapidjson::Document& doc, absl::string_view json, bool slim);

}  // namespace kube
