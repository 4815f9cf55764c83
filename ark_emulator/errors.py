"""Ark error bodies, with the codes, types and messages real Ark sends (ark-api.md §7.3)."""

from __future__ import annotations


class ApiError(Exception):
    """An Ark error answer: raised anywhere in a route, turned into a JSON error by the handler."""

    def __init__(self, status: int, code: str, message: str, param: str = "", kind: str = ""):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.type = kind or _TYPE_BY_STATUS.get(status, "InternalServerError")

    def body(self, request_id: str) -> dict:
        """The wire body; like real Ark, the message ends with the server's request id."""
        return {
            "error": {
                "code": self.code,
                "message": f"{self.message} Request id: {request_id}",
                "param": self.param,
                "type": self.type,
            }
        }


_TYPE_BY_STATUS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    429: "TooManyRequests",
    500: "InternalServerError",
}


def authentication_error() -> ApiError:
    return ApiError(
        401,
        "AuthenticationError",
        "The API key or AK/SK in the request is missing or invalid.",
    )


def invalid_parameter(param: str, detail: str = "") -> ApiError:
    if detail:
        message = f"The parameter {param} specified in the request are not valid: {detail}."
    else:
        message = "One or more parameters specified in the request are not valid."
    return ApiError(400, "InvalidParameter", message, param)


def missing_parameter(param: str) -> ApiError:
    return ApiError(
        400,
        "MissingParameter",
        "The request failed because it is missing one or multiple required parameters.",
        param,
    )


def caching_with_instructions() -> ApiError:
    # Documented verbatim (ark-api.md §6, §7.3); note the missing full stop before "Request id".
    return ApiError(
        400,
        "InvalidParameter",
        "The parameter instructions specified in the request are not valid: "
        "caching is not supported for instructions.",
        "instructions",
    )


def model_not_found(model: str) -> ApiError:
    return ApiError(
        404,
        "InvalidEndpointOrModel.NotFound",
        f"The model or endpoint {model} does not exist or you do not have access to it.",
    )


def model_not_open(model: str) -> ApiError:
    return ApiError(
        404,
        "ModelNotOpen",
        f"Your account 2100000000 has not activated the model {model}. "
        "Please activate the model service in the Ark Console.",
    )


def context_not_found(context_id: str) -> ApiError:
    return ApiError(
        404,
        "NotFound.ContextId",
        f"The specified context {context_id} is not found.",
        "context_id",
    )


def previous_response_not_found(response_id: str) -> ApiError:
    return ApiError(
        404,
        "InvalidParameter.PreviousResponseNotFound",
        f"The previous response {response_id} is not found or has expired.",
        "previous_response_id",
    )


def response_not_found(response_id: str) -> ApiError:
    return ApiError(
        404,
        "NotFound.ResponseId",
        f"The specified response {response_id} is not found.",
        "response_id",
    )


def route_not_found(path: str) -> ApiError:
    return ApiError(404, "NotFound", f"The requested path {path} is not found.")


def rate_limited() -> ApiError:
    return ApiError(
        429,
        "RateLimitExceeded.EndpointRPMExceeded",
        "The Requests Per Minute (RPM) limit of the associated endpoint "
        "for your account has been exceeded.",
    )


def quota_exceeded() -> ApiError:
    return ApiError(
        429,
        "QuotaExceeded",
        "The request failed because your account has exceeded its quota for this model.",
    )


def internal_error() -> ApiError:
    return ApiError(
        500, "InternalServiceError", "The service encountered an unexpected internal error."
    )


def sensitive_content() -> ApiError:
    return ApiError(
        400,
        "SensitiveContentDetected",
        "The request failed because the input text may contain sensitive information.",
    )


def context_in_progress() -> ApiError:
    return ApiError(
        403,
        "OperationDenied.InvalidState",
        "Operation is denied because the specified context is in invalid state: InProgress.",
    )
