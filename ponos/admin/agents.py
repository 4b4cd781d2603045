"""
Admin of farms, agents (with their GPUs) and secrets.

Agents register and describe themselves: their hardware (GPUs included) is shown, not edited; an
administrator sets `stopped` to take one out of service, and lists agents by hostname (seed 002),
so that pings do not reorder them. A secret's content is never displayed: its form has a
write-only field whose text is encrypted on save (see `ponos.secret_store`).
"""

from django import forms
from django.contrib import admin

from arkindex.admin_tools import IdSearchMixin, RecordAdminMixin
from ponos.models import GPU, Agent, Farm, Secret
from ponos.secret_store import SecretDecryptionError, decrypt, encrypt, validate_name


@admin.register(Farm)
class FarmAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("name", "created")
    search_fields = ("name",)
    readonly_fields = ("id", "created", "updated")
    ordering = ("name",)


class GPUInline(admin.TabularInline):
    model = GPU
    fields = ("index", "id", "name", "ram_total")
    readonly_fields = fields
    ordering = ("index",)
    extra = 0

    def has_add_permission(self, request, obj=None):
        # GPUs are the ones `nvidia-smi` reports when the agent starts; stale ones may be deleted.
        return False


@admin.register(Agent)
class AgentAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("hostname", "pid", "farm", "executor", "concurrency", "cpu_cores", "last_ping", "stopped")
    list_filter = ("farm", "executor", ("stopped", admin.EmptyFieldListFilter))
    search_fields = ("hostname",)
    list_select_related = ("farm",)
    # Seed 002: by hostname, so that pings do not reorder the list.
    ordering = ("hostname", "pid")
    fields = (
        "id",
        "farm",
        "hostname",
        "pid",
        "executor",
        "concurrency",
        "cpu_cores",
        "ram_total",
        "last_ping",
        "stopped",
        "created",
        "updated",
    )
    # What the agent reports is its own; only stopping it is an admin's choice.
    readonly_fields = tuple(field for field in fields if field != "stopped")
    inlines = (GPUInline,)

    def has_add_permission(self, request):
        # Agents register themselves when `manage.py ponos_agent` starts.
        return False


@admin.register(GPU)
class GPUAdmin(RecordAdminMixin, admin.ModelAdmin):
    list_display = ("name", "index", "agent", "ram_total")
    list_filter = ("agent__farm",)
    search_fields = ("id", "name", "agent__hostname")
    list_select_related = ("agent",)
    fields = ("id", "agent", "index", "name", "ram_total")
    readonly_fields = fields
    ordering = ("agent__hostname", "agent__pid", "index")


class SecretForm(forms.ModelForm):
    plaintext = forms.CharField(
        label="Content",
        widget=forms.Textarea(attrs={"autocomplete": "off", "spellcheck": "false"}),
        required=False,
        strip=False,
        help_text="Write-only: the stored content is never displayed. Leave empty to keep the current content.",
    )

    class Meta:
        model = Secret
        fields = ("name",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance._state.adding:
            self.fields["plaintext"].required = True
            self.fields["plaintext"].help_text = "Write-only: encrypted on save and never displayed again."

    def clean_name(self):
        name = self.cleaned_data["name"]
        validate_name(name)
        return name

    def clean(self):
        cleaned_data = super().clean()
        name = cleaned_data.get("name")
        if self.instance._state.adding or not name or cleaned_data.get("plaintext"):
            return cleaned_data
        if name != self.instance.name:
            # The name is authenticated with the content: renaming re-encrypts the current content.
            try:
                cleaned_data["plaintext"] = decrypt(self.instance)
            except SecretDecryptionError:
                self.add_error(
                    "plaintext", "The current content cannot be decrypted to rename the secret: enter it again."
                )
        return cleaned_data

    def save(self, commit=True):
        secret = super().save(commit=False)
        plaintext = self.cleaned_data.get("plaintext")
        if plaintext:
            secret.nonce, secret.content = encrypt(secret.name, plaintext)
        if commit:
            secret.save()
        return secret


@admin.register(Secret)
class SecretAdmin(admin.ModelAdmin):
    form = SecretForm
    fields = ("id", "name", "plaintext", "created", "updated")
    readonly_fields = ("id", "created", "updated")
    list_display = ("name", "created", "updated")
    search_fields = ("name",)
    ordering = ("name",)
