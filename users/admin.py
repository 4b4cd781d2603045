"""
Admin of users, their tokens, groups, memberships and rights.

Rights and memberships can number hundreds of thousands on one corpus or group (seed 002): they
have their own lists, searched by email, group name or the exact UUID of the object they give
access to, and a group's page links to its memberships instead of listing them. Deleting a user or
a group counts what goes with it instead of listing every row.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from arkindex.admin_tools import EstimatedCountPaginator, IdSearchMixin, related_link, summarised_deletion
from users.models import Group, Membership, Right, Token, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "display_name", "is_active", "is_staff", "is_superuser", "created")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email", "display_name")
    readonly_fields = ("created", "updated", "last_login")
    fieldsets = (
        (None, {"fields": ("email", "display_name", "password")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "created", "updated")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "display_name", "password1", "password2")}),)
    filter_horizontal = ()

    def get_deleted_objects(self, objs, request):
        # A user's selection alone may hold a whole corpus.
        return summarised_deletion(self, objs, request)


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "created", "last_used")
    search_fields = ("name", "user__email")
    list_filter = ("name",)
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    # The key is shown once, on creation, in the success message: never in lists or forms.
    exclude = ("key",)
    readonly_fields = ("created", "last_used")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            self.message_user(request, f"Token created. Its key, shown only now: {obj.key}")


@admin.register(Group)
class GroupAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("name", "public", "created")
    list_filter = ("public",)
    search_fields = ("name",)
    search_help_text = "Part of the name, or the group's UUID."
    fields = ("id", "name", "public", "memberships", "created")
    readonly_fields = ("id", "memberships", "created")

    @admin.display(description="memberships")
    def memberships(self, group):
        if group.pk is None:
            return "-"
        return related_link(Membership, group.memberships.count(), group=group.pk)

    def get_deleted_objects(self, objs, request):
        return summarised_deletion(self, objs, request)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "group", "level")
    list_filter = ("level",)
    search_fields = ("user__email", "group__name")
    search_help_text = "Part of the member's email or of the group's name."
    list_select_related = ("user", "group")
    raw_id_fields = ("user", "group")
    paginator = EstimatedCountPaginator
    show_full_result_count = False


@admin.register(Right)
class RightAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("content_type", "object_id", "user", "group", "level")
    list_filter = ("content_type", "level")
    search_fields = ("user__email", "group__name")
    search_help_text = "Part of the user's email or of the group's name, or the UUID of the object (corpus, worker…)."
    # Read from the (content_type, object_id) index.
    id_search_fields = ("object_id",)
    list_select_related = ("content_type", "user", "group")
    raw_id_fields = ("user", "group")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
