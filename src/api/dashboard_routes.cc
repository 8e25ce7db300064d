// The dashboard's routes: GET / (the page) and GET /dashboard/{file} (its script and style),
// public like /healthz: they carry no data, only the code that asks the API with a token.
#include "api/dashboard.h"
#include "api/server.h"
#include "core/strings.h"

namespace certcast::api {
namespace {

std::string_view ContentType(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

void Serve(std::string_view name, Response& response) {
  const DashboardAsset* asset = FindDashboardAsset(name);
  if (asset == nullptr) {
    return response.Error(404, "not_found", StrCat("no dashboard file \"", name, "\""));
  }
  response.status = 200;
  response.content_type = std::string(ContentType(name));
  response.body = std::string(asset->content);
  response.headers.emplace_back("Content-Security-Policy", std::string(kDashboardCsp));
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  // The address may carry ?token= on the first load: never send it onwards.
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  response.headers.emplace_back("X-Frame-Options", "DENY");
  // The files change with the binary; a browser asks again rather than run an old script
  // against a new API.
  response.headers.emplace_back("Cache-Control", "no-cache");
}

}  // namespace

Status RegisterDashboardRoutes(Router& router, ServerContext&) {
  RETURN_IF_ERROR(router.Add({.method = "GET",
                              .path = "/",
                              .scopes = 0,
                              .handler = [](Request&, Response& response) {
                                Serve("index.html", response);
                              }}));
  return router.Add({.method = "GET",
                     .path = "/dashboard/{file}",
                     .scopes = 0,
                     .handler = [](Request& request, Response& response) {
                       Serve(request.path_params["file"], response);
                     }});
}

}  // namespace certcast::api
