"""/docs: Swagger UI from the assets of the swagger-ui-bundle-v2 package, never a CDN.

The page must work on a machine with no internet access, so every URL in it is this
server's own. (swagger-ui-bundle 1.x ships Swagger UI 4, which cannot read the OpenAPI
3.1 document FastAPI writes; the -v2 package ships Swagger UI 5 under the same import.)
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"


def install_docs_page(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger_ui")

    @app.get("/docs", include_in_schema=False)
    def docs_page() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API reference",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            # The validator badge would send the document to an outside service.
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
        )
