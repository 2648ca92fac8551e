"""Private files (sealed bid plans, delivery evidence) live outside MEDIA_ROOT, and the file
fields name the storage by a function, so migrations do not depend on where a machine keeps
them."""

from marketplace.models import Bid, DeliveryRecord
from marketplace.models.procurement import private_storage, private_storage_get


def test_file_fields_name_the_storage_function_not_a_location():
    for field in (Bid._meta.get_field("plan_file"), DeliveryRecord._meta.get_field("evidence")):
        _name, _path, _args, kwargs = field.deconstruct()
        assert kwargs["storage"] is private_storage_get
        assert field.storage is private_storage


def test_private_root_is_not_served_media(settings):
    assert private_storage.location == settings.PRIVATE_MEDIA_ROOT
    assert not str(settings.PRIVATE_MEDIA_ROOT).startswith(str(settings.MEDIA_ROOT))
