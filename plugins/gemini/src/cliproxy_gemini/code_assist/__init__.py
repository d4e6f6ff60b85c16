"""Gemini CLI / Code Assist: OAuth token files, the ``v1internal`` wire, login."""

from cliproxy_gemini.code_assist.auth import Account, GeminiCLIAuth
from cliproxy_gemini.code_assist.login import GeminiLogin, login_flow
from cliproxy_gemini.code_assist.options import CodeAssistOptions, read_options
from cliproxy_gemini.code_assist.provider import GeminiCLIProvider
from cliproxy_gemini.code_assist.translator import CodeAssist

__all__ = [
    "Account",
    "CodeAssist",
    "CodeAssistOptions",
    "GeminiCLIAuth",
    "GeminiCLIProvider",
    "GeminiLogin",
    "login_flow",
    "read_options",
]
