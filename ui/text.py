"""Every piece of UI text, in English and Chinese. `t(lang, key, **values)` formats one."""

from __future__ import annotations

TEXT: dict[str, tuple[str, str]] = {
    # sidebar
    "app_title": ("Ark Chat", "方舟聊天"),
    "new_chat": ("New chat", "新建会话"),
    "reused_notice": (
        "Continue in the session you have not started yet",
        "请继续使用当前未开始的会话",
    ),
    "search": ("Search chats", "搜索会话"),
    "search_none": ("No chat matches “{query}”.", "没有与“{query}”匹配的会话。"),
    "group_pinned": ("Pinned", "已置顶"),
    "group_today": ("Today", "今天"),
    "group_yesterday": ("Yesterday", "昨天"),
    "group_week": ("Previous 7 days", "过去 7 天"),
    "group_older": ("Older", "更早"),
    "show_more": ("Show more", "显示更多"),
    "untitled": ("New chat", "新会话"),
    "chat_actions": ("Chat actions", "会话操作"),
    "rename": ("Rename", "重命名"),
    "save": ("Save", "保存"),
    "pin": ("Pin", "置顶"),
    "unpin": ("Unpin", "取消置顶"),
    "delete": ("Delete", "删除"),
    "delete_confirm": ("Delete this chat for good?", "确定要永久删除此会话吗？"),
    "delete_yes": ("Yes, delete", "确认删除"),
    "deleted": ("Chat deleted.", "会话已删除。"),
    "export_md": ("Export Markdown", "导出 Markdown"),
    "export_json": ("Export JSON", "导出 JSON"),
    "import": ("Import a chat (JSON export)", "导入会话（JSON 导出文件）"),
    "imported": ("Imported “{title}”.", "已导入“{title}”。"),
    "backup_note": (
        "Export and import are the way to back up and move chats.",
        "导出与导入可用于备份和迁移会话。",
    ),
    "language": ("Language", "语言"),
    "api_key": ("Ark API key", "方舟 API Key"),
    "api_key_help": (
        "Used only in this browser tab, never stored or logged.",
        "仅在当前浏览器标签页中使用，不会被保存或记录。",
    ),
    "setup_note": (
        "No API key is configured. Enter one above, or set `ARK_API_KEY` (and `ARK_MODEL`) "
        "as environment variables or in `.streamlit/secrets.toml`. You can still browse "
        "your chats.",
        "尚未配置 API Key。请在上方输入，或通过环境变量或 `.streamlit/secrets.toml` 设置 "
        "`ARK_API_KEY`（以及 `ARK_MODEL`）。你仍可以浏览已有会话。",
    ),
    "cloud_notice": (
        "Running on Streamlit Community Cloud with a SQLite file: its disk is wiped on "
        "reboot, so history here is temporary. Set CHAT_DB to a PostgreSQL URL to keep it "
        "(see the README), and export chats you want to keep.",
        "当前在 Streamlit Community Cloud 上使用 SQLite 文件：重启后磁盘会被清空，这里的历史"
        "记录是临时的。将 CHAT_DB 设为 PostgreSQL 地址即可持久保存（见 README），"
        "并请导出需要保留的会话。",
    ),
    "log_in": ("Log in", "登录"),
    "log_out": ("Log out", "退出登录"),
    "login_needed": ("Please log in to see your chats.", "请登录以查看你的会话。"),
    "proxy_identity_missing": (
        "This app runs behind a sign-in proxy, but the request did not say who you are. "
        "Open it through the proxy.",
        "此应用部署在登录代理之后，但请求中没有你的身份信息。请通过代理访问。",
    ),
    "signed_in_as": ("Signed in as {owner}", "当前用户：{owner}"),
    # chat area
    "unknown_session": (
        "That chat does not exist or is not yours; showing your new chat instead.",
        "该会话不存在或不属于你，已为你打开新会话。",
    ),
    "input_placeholder": ("Message {model}", "给 {model} 发消息"),
    "input_disabled": ("Enter an API key in the sidebar to chat", "请先在侧边栏输入 API Key"),
    "show_earlier": ("Show earlier messages ({count} more)", "显示更早的消息（还有 {count} 条）"),
    "thinking": ("Thinking", "思考过程"),
    "interrupted": ("Reply interrupted", "回复已中断"),
    "failed": ("Reply failed", "回复失败"),
    "streaming_elsewhere": ("Reply incomplete", "回复不完整"),
    "retry": ("Retry", "重试"),
    "regenerate": ("Regenerate", "重新生成"),
    "edit": ("Edit", "编辑"),
    "edit_label": ("Edit your last message", "编辑你的上一条消息"),
    "resend": ("Save and resend", "保存并重新发送"),
    "cancel": ("Cancel", "取消"),
    "tokens": (
        "{prompt} in ({cached} cached) · {completion} out",
        "输入 {prompt}（缓存 {cached}）· 输出 {completion}",
    ),
    "reasoning_tokens": ("{count} reasoning", "推理 {count}"),
    "cost": ("¥{cost}", "¥{cost}"),
    "latency": ("{seconds:.1f} s", "{seconds:.1f} 秒"),
    "latency_ms": ("{ms} ms", "{ms} 毫秒"),
    "session_cost": ("This chat: ¥{cost}", "本会话：¥{cost}"),
    "session_cost_partial": (
        "This chat: ≥ ¥{cost} (some prices unknown)",
        "本会话：≥ ¥{cost}（部分价格未知）",
    ),
    # settings
    "settings": ("Settings", "设置"),
    "model": ("Model or endpoint id", "模型或接入点 ID"),
    "system_prompt": ("System prompt", "系统提示词"),
    "temperature": ("Temperature", "温度"),
    "thinking_mode": ("Thinking", "深度思考"),
    "cache_mode": ("Conversation mode", "对话模式"),
    "cache_off": ("Stateless (full history)", "无状态（发送完整历史）"),
    "cache_context": (
        "Context API cache (ep- endpoint)",
        "上下文缓存（Context API，需 ep- 接入点）",
    ),
    "cache_responses": ("Responses API cache", "Responses API 缓存"),
    "thinking_enabled": ("On", "开启"),
    "thinking_disabled": ("Off", "关闭"),
    "thinking_auto": ("Auto", "自动"),
    "context_thinking_note": (
        "The Context API has no thinking switch; the model's default applies.",
        "Context API 不支持深度思考开关，将使用模型默认设置。",
    ),
    "settings_saved": ("Settings saved for this chat.", "已保存此会话的设置。"),
}


def t(lang: str, key: str, **values: object) -> str:
    """The text for `key` in `lang` ("en" or "zh"), formatted with `values`."""
    en, zh = TEXT[key]
    text = zh if lang == "zh" else en
    return text.format(**values) if values else text


def language_for(locale: str | None, chosen: str = "auto") -> str:
    """The UI language: the chosen one, else Chinese for a zh browser locale, else English."""
    if chosen in ("en", "zh"):
        return chosen
    return "zh" if (locale or "").lower().startswith("zh") else "en"
